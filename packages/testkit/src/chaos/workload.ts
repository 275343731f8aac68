/** How one client operation ended, for the timeline and the unavailability windows. */
export type OperationOutcome = {
  /** What it was (`get`, `put`, `cas`, `createDeployment`, ...). */
  readonly kind: string;
  readonly result: 'ok' | 'failed' | 'unknown';
  /** performance.now() milliseconds. */
  readonly callMs: number;
  readonly endMs: number;
};

/** What a workload's checks found once the cluster was healed and had converged. */
export type WorkloadCheck = {
  /** One line per violation; empty when every check passed. */
  readonly violations: readonly string[];
  /** Numbers worth reporting (operations checked, events compared, checker time, ...). */
  readonly details: Readonly<Record<string, number | string | boolean>>;
};

/**
 * Load that a chaos run drives through a cluster while it breaks it, and the checks that
 * decide whether anything went wrong. The store's register/CAS workload is one; a
 * Kubernetes-level one (Deployments through the API server) plugs in the same way.
 */
export interface ChaosWorkload {
  readonly name: string;
  /** Begin issuing operations (returns once they are under way). */
  start(): Promise<void>;
  /** Issue no new operations and wait for those in flight. */
  stop(): Promise<void>;
  /** Every operation ended so far. */
  outcomes(): readonly OperationOutcome[];
  /** After the faults are undone and the cluster converged: what went wrong, if anything. */
  check(): Promise<WorkloadCheck>;
}
