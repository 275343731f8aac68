import type { Container, Pod, RestartPolicy } from '@flotilla/api';
import { containerHash } from './container-config.ts';
import { latestByName, type ObservedContainer, type ObservedPod } from './observed.ts';

/** Why a running container is to be killed. */
export type KillOrder = {
  readonly container: ObservedContainer;
  readonly reason: string;
  readonly message: string;
};

/** One step from what runs toward what the pod spec wants (kubelet's podActions). */
export type PodActions = {
  /** Stop every container and the sandbox first (a new sandbox follows, or the pod is done). */
  readonly killPod: boolean;
  readonly createSandbox: boolean;
  /** The ready sandbox new containers go into (when no new one is created). */
  readonly sandboxId: string | undefined;
  /** The attempt number of a sandbox to create. */
  readonly attempt: number;
  /** Init containers run one at a time, in order. */
  readonly initToStart: Container | undefined;
  readonly containersToStart: readonly Container[];
  readonly containersToKill: readonly KillOrder[];
  /** An init container failed under restartPolicy Never: the pod has failed. */
  readonly initFailed: boolean;
};

const nothing: PodActions = {
  killPod: false,
  createSandbox: false,
  sandboxId: undefined,
  attempt: 0,
  initToStart: undefined,
  containersToStart: [],
  containersToKill: [],
  initFailed: false,
};

/** A running container the probes found unhealthy (liveness or startup failure). */
export type Unhealthy = { readonly reason: string; readonly message: string };

/**
 * Whether a container that is not running starts (again), per the pod's restartPolicy.
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy
 */
export function shouldStart(latest: ObservedContainer | undefined, policy: RestartPolicy): boolean {
  if (latest === undefined || latest.state !== 'exited') return true;
  switch (policy) {
    case 'Always':
      return true;
    case 'OnFailure':
      return latest.exitCode !== 0;
    case 'Never':
      return false;
  }
}

/**
 * kubelet's computePodActions: compares the pod spec with what the runtime runs and
 * says what to do next. Pure; back-off is applied by whoever carries the actions out.
 */
export function computePodActions(
  pod: Pod,
  observed: ObservedPod,
  unhealthy: ReadonlyMap<string, Unhealthy>,
): PodActions {
  const spec = pod.spec;
  const policy = spec?.restartPolicy ?? 'Always';
  const initContainers = spec?.initContainers ?? [];
  const containers = spec?.containers ?? [];
  const latestRegular = latestByName(observed.containers, 'regular');
  const latestInit = latestByName(observed.containers, 'init');

  const newest = observed.sandboxes[0];
  const readyCount = observed.sandboxes.filter((s) => s.state === 'ready').length;
  const needSandbox = newest === undefined || newest.state !== 'ready' || readyCount > 1;
  if (needSandbox) {
    const attempt = newest === undefined ? 0 : newest.metadata.attempt + 1;
    // A pod that ran and must not run again only has its old sandbox stopped.
    if (policy === 'Never' && attempt !== 0 && observed.containers.length > 0) {
      return { ...nothing, killPod: true, attempt };
    }
    if (initContainers.length > 0) {
      return { ...nothing, killPod: true, createSandbox: true, attempt, initToStart: initContainers[0] };
    }
    const toStart = containers.filter((c) => {
      const latest = latestRegular.get(c.name);
      return !(policy === 'OnFailure' && latest?.state === 'exited' && latest.exitCode === 0);
    });
    if (toStart.length === 0) return { ...nothing, killPod: true, attempt };
    return { ...nothing, killPod: true, createSandbox: true, attempt, containersToStart: toStart };
  }

  const sandboxId = newest.id;
  for (const c of initContainers) {
    const latest = latestInit.get(c.name);
    if (latest === undefined || latest.state === 'created' || latest.state === 'unknown') {
      return { ...nothing, sandboxId, initToStart: c };
    }
    if (latest.state === 'running') return { ...nothing, sandboxId };
    if (latest.exitCode === 0) continue;
    if (policy === 'Never') return { ...nothing, sandboxId, killPod: true, initFailed: true };
    return { ...nothing, sandboxId, initToStart: c };
  }

  const toStart: Container[] = [];
  const toKill: KillOrder[] = [];
  let keep = 0;
  for (const c of containers) {
    const latest = latestRegular.get(c.name);
    if (latest === undefined || latest.state !== 'running') {
      if (shouldStart(latest, policy)) toStart.push(c);
      continue;
    }
    if (latest.hash !== containerHash(c)) {
      toKill.push({
        container: latest,
        reason: 'Killing',
        message: `Container ${c.name} definition changed, will be restarted`,
      });
      toStart.push(c);
      continue;
    }
    const bad = unhealthy.get(latest.id);
    if (bad !== undefined) {
      toKill.push({ container: latest, ...bad });
      if (policy !== 'Never') toStart.push(c);
      continue;
    }
    keep += 1;
  }
  // Nothing runs and nothing will: the pod is done, its sandbox is stopped.
  if (keep === 0 && toStart.length === 0 && toKill.length === 0)
    return { ...nothing, sandboxId, killPod: true };
  return { ...nothing, sandboxId, containersToStart: toStart, containersToKill: toKill };
}
