import type { Logger } from '@flotilla/actor';
import type { Container, Probe } from '@flotilla/api';
import type { Unhealthy } from './pod-actions.ts';
import type { Prober } from './prober.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
type Verdict = 'success' | 'failure' | 'unknown';

/** A running container the probes watch. */
export type RunningContainer = {
  readonly id: string;
  readonly container: Container;
  readonly startedAtMs: number;
};

/** What the probes knew before an agent restart (from the pod's last reported status). */
export type ProbeSeed = { readonly ready: boolean; readonly started: boolean };

/** Kubernetes' probe defaults (API defaulting sets them too; a pod that skipped it still probes sanely). */
const defaults = {
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
  initialDelaySeconds: 0,
};

function probeOf(c: Container, kind: ProbeKind): Probe | undefined {
  return kind === 'liveness' ? c.livenessProbe : kind === 'readiness' ? c.readinessProbe : c.startupProbe;
}

class ProbeWorker {
  readonly kind: ProbeKind;
  verdict: Verdict;
  message = '';
  private readonly manager: ProbeManager;
  private readonly podUid: string;
  private readonly target: RunningContainer;
  private readonly probe: Probe;
  private readonly podIP: string;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private onHold = false;
  private lastResult: Verdict = 'unknown';
  private resultRun = 0;

  constructor(
    manager: ProbeManager,
    podUid: string,
    target: RunningContainer,
    kind: ProbeKind,
    podIP: string,
    initial: Verdict,
  ) {
    this.manager = manager;
    this.podUid = podUid;
    this.target = target;
    this.kind = kind;
    this.probe = probeOf(target.container, kind) ?? {};
    this.podIP = podIP;
    this.verdict = initial;
  }

  start(): void {
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private tick(): void {
    if (this.stopped) return;
    this.doProbe()
      .catch((err) =>
        this.manager.log.error({ err, container: this.target.container.name }, 'probe failed to run'),
      )
      .finally(() => {
        if (this.stopped) return;
        const periodMs = (this.probe.periodSeconds || defaults.periodSeconds) * 1000;
        this.timer = setTimeout(() => this.tick(), periodMs);
        this.timer.unref();
      });
  }

  /** kubelet's prober worker: one probe, counted against the thresholds. */
  private async doProbe(): Promise<void> {
    if (this.onHold) return;
    // Liveness and readiness wait for the startup probe to succeed.
    if (this.kind !== 'startup' && !this.manager.isStarted(this.target.id)) return;
    if (this.kind === 'startup' && this.verdict === 'success') return;
    const delayMs = (this.probe.initialDelaySeconds ?? defaults.initialDelaySeconds) * 1000;
    if (this.manager.now() - this.target.startedAtMs < delayMs) return;
    const result = await this.manager.prober.probe(this.probe, {
      containerId: this.target.id,
      container: this.target.container,
      podIP: this.podIP,
    });
    if (this.stopped) return;
    const r: Verdict = result.ok ? 'success' : 'failure';
    if (r === this.lastResult) this.resultRun += 1;
    else {
      this.lastResult = r;
      this.resultRun = 1;
    }
    const threshold =
      r === 'failure'
        ? this.probe.failureThreshold || defaults.failureThreshold
        : this.probe.successThreshold || defaults.successThreshold;
    if (this.resultRun < threshold) return;
    if (this.verdict !== r) {
      this.verdict = r;
      this.message = result.message;
      this.manager.log.info(
        {
          pod: this.podUid,
          container: this.target.container.name,
          probe: this.kind,
          result: r,
          message: result.message,
        },
        'probe result changed',
      );
      this.manager.changed(this.podUid);
    }
    if (r === 'failure' && this.kind !== 'readiness') {
      // The container is about to be killed; wait for its successor instead of counting on.
      this.onHold = true;
      this.resultRun = 0;
    }
  }
}

export type ProbeManagerOptions = {
  readonly prober: Prober;
  /** Called when a probe's verdict changes: the pod needs a sync. */
  readonly onChange: (podUid: string) => void;
  readonly logger: Logger;
  readonly now?: () => number;
};

/**
 * One worker per probe of each running container, as kubelet's prober manager runs
 * them. Initial verdicts follow Kubernetes: not ready until readiness succeeds, alive
 * until liveness fails, not started until the startup probe succeeds.
 */
export class ProbeManager {
  readonly prober: Prober;
  readonly log: Logger;
  readonly now: () => number;
  private readonly onChange: (podUid: string) => void;
  /** podUid → containerId → kind → worker */
  private readonly pods = new Map<string, Map<string, Map<ProbeKind, ProbeWorker>>>();
  private readonly byContainer = new Map<string, Map<ProbeKind, ProbeWorker>>();

  constructor(options: ProbeManagerOptions) {
    this.prober = options.prober;
    this.onChange = options.onChange;
    this.log = options.logger.child({ component: 'prober' });
    this.now = options.now ?? Date.now;
  }

  changed(podUid: string): void {
    this.onChange(podUid);
  }

  /** Starts workers for new running containers and stops those of containers that stopped. */
  syncPod(
    podUid: string,
    running: readonly RunningContainer[],
    podIP: string,
    seed: (containerId: string) => ProbeSeed | undefined,
  ): void {
    const containers = this.pods.get(podUid) ?? new Map<string, Map<ProbeKind, ProbeWorker>>();
    this.pods.set(podUid, containers);
    const live = new Set(running.map((r) => r.id));
    for (const [id, workers] of containers) {
      if (live.has(id)) continue;
      for (const w of workers.values()) w.stop();
      containers.delete(id);
      this.byContainer.delete(id);
    }
    for (const r of running) {
      if (containers.has(r.id)) continue;
      const workers = new Map<ProbeKind, ProbeWorker>();
      const s = seed(r.id);
      const started: Verdict = s?.started === true ? 'success' : 'unknown';
      const ready: Verdict = s?.ready === true ? 'success' : 'failure';
      for (const kind of ['startup', 'liveness', 'readiness'] as const) {
        if (probeOf(r.container, kind) === undefined) continue;
        const initial = kind === 'startup' ? started : kind === 'readiness' ? ready : 'success';
        workers.set(kind, new ProbeWorker(this, podUid, r, kind, podIP, initial));
      }
      containers.set(r.id, workers);
      this.byContainer.set(r.id, workers);
      for (const w of workers.values()) w.start();
    }
    if (containers.size === 0) this.pods.delete(podUid);
  }

  isStarted(containerId: string): boolean {
    const w = this.byContainer.get(containerId)?.get('startup');
    return w === undefined || w.verdict === 'success';
  }

  /** The container's readiness as status reports it (running is assumed). */
  isReady(containerId: string): boolean {
    if (!this.isStarted(containerId)) return false;
    const w = this.byContainer.get(containerId)?.get('readiness');
    return w === undefined || w.verdict === 'success';
  }

  /** Liveness or startup failure: the container must be restarted. */
  unhealthy(containerId: string, containerName: string): Unhealthy | undefined {
    const workers = this.byContainer.get(containerId);
    for (const kind of ['startup', 'liveness'] as const) {
      const w = workers?.get(kind);
      if (w?.verdict === 'failure') {
        return {
          reason: 'Unhealthy',
          message: `Container ${containerName} failed ${kind} probe, will be restarted: ${w.message}`,
        };
      }
    }
    return undefined;
  }

  removePod(podUid: string): void {
    this.syncPod(podUid, [], '', () => undefined);
  }

  stop(): void {
    for (const uid of [...this.pods.keys()]) this.removePod(uid);
  }

  get workerCount(): number {
    let n = 0;
    for (const w of this.byContainer.values()) n += w.size;
    return n;
  }
}
