import { backoffDelayMs, type Logger } from '@flotilla/actor';
import type { Container, Pod, PodStatus } from '@flotilla/api';
import { podQOSClass, timeToMs } from '@flotilla/api';
import { ContainerConfigError, VolumeError } from '../errors.ts';
import type { Runtime, SandboxConfig } from '../runtime/runtime.ts';
import { canonicalJson } from './canonical-json.ts';
import { containerConfigFor, containerHash, podGracePeriodSeconds } from './container-config.ts';
import { removeLog, rotateLogIfLarge } from './container-logs.ts';
import type { EnvContext } from './env.ts';
import type { ImageManager } from './image-manager.ts';
import type { ContainerKind } from './labels.ts';
import { latestByName, type ObservedPod, type RuntimeObserver } from './observed.ts';
import { computePodActions, type KillOrder, type PodActions, type Unhealthy } from './pod-actions.ts';
import type { PodCgroups } from './pod-cgroups.ts';
import { type PodRef, podRefOf, type StatusSink } from './pod-source.ts';
import { computePodStatus, containerKey, type WaitingReason } from './pod-status.ts';
import type { ProbeManager } from './probe-manager.ts';
import type { Prober } from './prober.ts';
import type { RestartBackoff } from './restart-backoff.ts';
import {
  type ClusterDns,
  dnsConfigFor,
  hostsFile,
  podLogDirectory,
  type ResolvConf,
  sandboxConfigFor,
} from './sandbox-config.ts';
import type { PodVolumes, VolumeManager } from './volumes.ts';

/** kubelet never gives a container less than this to stop after its preStop hook. */
export const minimumGracePeriodSeconds = 2;
/** A sync that takes longer is logged (stopping containers with long grace periods does). */
const slowSyncMs = 5_000;
/** Back-off of a pod whose sync failed (a runtime error): retried from 1 s up to 30 s. */
const syncRetryBackoff = { initialMs: 1_000, maxMs: 30_000, multiplier: 2, jitter: 0.2 };

/** What every pod worker shares: the kubelet's services and settings. */
export type WorkerContext = {
  readonly nodeName: string;
  readonly runtime: Runtime;
  readonly runtimeName: string;
  readonly observer: RuntimeObserver;
  readonly images: ImageManager;
  readonly volumes: VolumeManager;
  readonly cgroups: PodCgroups;
  readonly probes: ProbeManager;
  readonly prober: Prober;
  readonly crashBackoff: RestartBackoff;
  readonly statusSink: StatusSink;
  readonly lookup: EnvContext['lookup'];
  readonly hostIP: string;
  readonly podLogsDir: string;
  /** How often configMap and secret volumes are written again from their current objects. */
  readonly volumeRefreshMs: number;
  readonly clusterDns: ClusterDns;
  readonly hostResolvConf: ResolvConf;
  readonly nodeAllocatable: { readonly cpuMilli: number; readonly memoryBytes: number };
  readonly log: Logger;
  readonly now: () => number;
  /** Bounds how many pods sync at once. */
  readonly acquireSync: () => Promise<() => void>;
  /** The worker finished tearing down a deleted pod. */
  readonly workerDone: (uid: string) => void;
};

/**
 * One pod's worker (kubelet's podWorkers and SyncPod): syncs are serialized, and
 * requests that arrive during a sync fold into one more sync after it. Each sync looks
 * at what runs, takes one step toward the spec, and reports the status when it changed.
 */
export class PodWorker {
  readonly uid: string;
  private pod: Pod;
  private readonly ctx: WorkerContext;
  private readonly log: Logger;
  private readonly waiting = new Map<string, WaitingReason>();
  private deleted = false;
  private terminatedReported = false;
  private done = false;
  private syncing = false;
  private dirty = false;
  private stopped = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAtMs = Number.POSITIVE_INFINITY;
  private retryAttempt = 0;
  private lastReported: string | undefined;
  private status: PodStatus | undefined;
  private hostsContent: string | undefined;
  private volumes: PodVolumes | undefined;
  /** Containers being stopped in the background, by id. */
  private readonly stopping = new Map<string, Promise<void>>();
  private volumesAtMs = 0;
  private hostsPath: string | undefined;
  private idle: Promise<void> = Promise.resolve();
  private resolveIdle: (() => void) | undefined;

  constructor(pod: Pod, ctx: WorkerContext) {
    this.uid = pod.metadata.uid ?? '';
    this.pod = pod;
    this.ctx = ctx;
    this.log = ctx.log.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid: this.uid });
    // What the API holds is the baseline: an adopted pod whose status did not change reports nothing.
    if (pod.status !== undefined) {
      this.status = pod.status;
      this.lastReported = canonicalJson(pod.status);
    }
  }

  get ref(): PodRef {
    return podRefOf(this.pod);
  }

  get currentPod(): Pod {
    return this.pod;
  }

  /** The status last reported (or found in the API). */
  get lastStatus(): PodStatus | undefined {
    return this.status;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  update(pod: Pod): void {
    if (this.deleted) return;
    this.pod = pod;
    this.requestSync();
  }

  /** The API object is gone: stop everything and remove it from the node. */
  markDeleted(pod: Pod): void {
    this.pod = pod;
    this.deleted = true;
    this.requestSync();
  }

  requestSync(): void {
    if (this.stopped || this.done) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = true;
    this.idle = new Promise((resolve) => {
      this.resolveIdle = resolve;
    });
    void this.loop();
  }

  /** Stops scheduling syncs and waits for a running one to end. Pods keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.wakeTimer);
    await this.idle;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.dirty = false;
        const release = await this.ctx.acquireSync();
        try {
          if (this.stopped) break;
          const began = this.ctx.now();
          await this.sync();
          const tookMs = this.ctx.now() - began;
          if (tookMs > slowSyncMs) this.log.info({ tookMs }, 'slow pod sync');
          this.retryAttempt = 0;
        } catch (err) {
          const delayMs = backoffDelayMs(this.retryAttempt++, syncRetryBackoff);
          this.log.error({ err, retryInMs: delayMs }, 'pod sync failed');
          this.wakeIn(delayMs);
        } finally {
          release();
        }
      } while (this.dirty && !this.stopped && !this.done);
    } finally {
      this.syncing = false;
      this.resolveIdle?.();
    }
  }

  private wakeIn(ms: number): void {
    this.wakeAt(this.ctx.now() + ms);
  }

  /** Schedules a sync at `atMs` unless an earlier one is already due. */
  private wakeAt(atMs: number): void {
    if (this.stopped || atMs >= this.wakeAtMs) return;
    clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAtMs = Number.POSITIVE_INFINITY;
        this.requestSync();
      },
      Math.max(0, atMs - this.ctx.now()),
    );
    this.wakeTimer.unref();
  }

  private async sync(): Promise<void> {
    const ctx = this.ctx;
    const pod = this.pod;
    let observed = await ctx.observer.observePod(this.uid);

    if (this.deleted) {
      await this.killPod(observed, this.gracePeriod());
      await this.removeAll(await ctx.observer.observePod(this.uid));
      ctx.probes.removePod(this.uid);
      ctx.images.forget(this.uid);
      ctx.crashBackoff.forget(`${this.uid}/`);
      await ctx.volumes.tearDownPod(this.uid);
      await ctx.volumes.removeDir(podLogDirectory(ctx.podLogsDir, pod));
      this.done = true;
      clearTimeout(this.wakeTimer);
      this.log.info('pod removed from the node');
      ctx.workerDone(this.uid);
      return;
    }

    if (pod.metadata.deletionTimestamp !== undefined) {
      // Graceful deletion: stop everything, report the final status, let the API drop the pod.
      if (hasRunning(observed)) {
        await this.killPod(observed, this.gracePeriod());
        observed = await ctx.observer.observePod(this.uid);
      }
      ctx.probes.removePod(this.uid);
      await this.report(observed, true, undefined);
      if (!this.terminatedReported) {
        this.log.info('pod terminated');
        await ctx.statusSink.podTerminated(this.ref);
        this.terminatedReported = true;
      }
      return;
    }

    const deadline = this.activeDeadlineMs();
    if (deadline !== undefined && ctx.now() >= deadline) {
      if (hasRunning(observed)) {
        await this.killPod(observed, this.gracePeriod());
        observed = await ctx.observer.observePod(this.uid);
      }
      ctx.probes.removePod(this.uid);
      await this.report(observed, true, {
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
      });
      return;
    }
    if (deadline !== undefined) this.wakeAt(deadline);

    // A finished pod stays finished: nothing is restarted, its sandbox is stopped.
    if (this.status?.phase === 'Succeeded' || this.status?.phase === 'Failed') {
      if (observed.sandboxes.some((s) => s.state === 'ready') || hasRunning(observed)) {
        await this.killPod(observed, this.gracePeriod());
        observed = await ctx.observer.observePod(this.uid);
      }
      ctx.probes.removePod(this.uid);
      await this.report(observed, false, undefined);
      return;
    }

    let volumes: PodVolumes;
    try {
      volumes = await this.podVolumes(observed);
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      this.log.warn({ err: err.message }, 'volumes not ready');
      for (const [kind, c] of allContainers(pod)) {
        if (!latestByName(observed.containers, kind).has(c.name)) {
          this.waiting.set(containerKey(kind, c.name), { reason: 'ContainerCreating', message: err.message });
        }
      }
      await this.report(observed, false, undefined);
      this.wakeIn(backoffDelayMs(this.retryAttempt++, syncRetryBackoff));
      return;
    }

    const unhealthy = new Map<string, Unhealthy>();
    for (const c of observed.containers) {
      if (c.state !== 'running') continue;
      const bad = ctx.probes.unhealthy(c.id, c.name);
      if (bad !== undefined) unhealthy.set(c.id, bad);
    }
    const actions = computePodActions(pod, observed, unhealthy);
    if (await this.execute(actions, observed, volumes)) observed = await ctx.observer.observePod(this.uid);
    await this.collectGarbage(observed);
    this.syncProbes(observed);
    await this.rotateLogs(observed);
    await this.report(observed, false, undefined);
  }

  /**
   * The pod's volumes, set up at the first sync and refreshed (configMap and secret
   * contents) every `volumeRefreshMs`, as kubelet's periodic sync does; not on every
   * sync, which probes and relists trigger often.
   */
  private async podVolumes(observed: ObservedPod): Promise<PodVolumes> {
    const now = this.ctx.now();
    if (this.volumes !== undefined && now - this.volumesAtMs < this.ctx.volumeRefreshMs) return this.volumes;
    const volumes = await this.ctx.volumes.setUpPod(this.pod, this.downward(observed));
    this.volumes = volumes;
    this.volumesAtMs = now;
    return volumes;
  }

  private gracePeriod(): number {
    return podGracePeriodSeconds(this.pod);
  }

  private activeDeadlineMs(): number | undefined {
    const seconds = this.pod.spec?.activeDeadlineSeconds;
    const start = timeToMs(this.status?.startTime);
    return seconds === undefined || start === undefined ? undefined : start + seconds * 1000;
  }

  private downward(observed: ObservedPod): EnvContext & { podIP: string } {
    const podIP = this.podIP(observed);
    return {
      lookup: this.ctx.lookup,
      nodeName: this.ctx.nodeName,
      hostIP: this.ctx.hostIP,
      podIP,
      podIPs: podIP === '' ? [] : [podIP],
      nodeAllocatable: this.ctx.nodeAllocatable,
    };
  }

  private podIP(observed: ObservedPod): string {
    if (this.pod.spec?.hostNetwork === true) return this.ctx.hostIP;
    return observed.sandboxes.find((s) => s.state === 'ready')?.ip ?? '';
  }

  private sandboxConfig(attempt: number): SandboxConfig {
    const ctx = this.ctx;
    return sandboxConfigFor(this.pod, attempt, {
      nodeName: ctx.nodeName,
      cgroupParent: ctx.cgroups.parentOf(this.uid),
      podLogsDir: ctx.podLogsDir,
      clusterDomain: ctx.clusterDns.domain,
      dns: dnsConfigFor(this.pod, ctx.clusterDns, ctx.hostResolvConf),
    });
  }

  /** Carries out the actions; returns whether anything was done to the runtime. */
  private async execute(actions: PodActions, observed: ObservedPod, volumes: PodVolumes): Promise<boolean> {
    const ctx = this.ctx;
    const pod = this.pod;
    let acted = false;
    if (actions.killPod && (hasRunning(observed) || observed.sandboxes.some((s) => s.state === 'ready'))) {
      await this.killPod(observed, pod.spec?.terminationGracePeriodSeconds ?? 30);
      acted = true;
    }
    if (actions.killPod && !actions.createSandbox) return acted;

    let sandboxId = actions.sandboxId;
    let attempt = observed.sandboxes.find((s) => s.id === sandboxId)?.metadata.attempt ?? 0;
    let podIP = this.podIP(observed);
    if (actions.createSandbox) {
      attempt = actions.attempt;
      const config = this.sandboxConfig(attempt);
      await ctx.volumes.ensureDir(config.logDirectory);
      try {
        sandboxId = await ctx.runtime.runPodSandbox(config);
      } catch (err) {
        const message = `Failed to create pod sandbox: ${err instanceof Error ? err.message : String(err)}`;
        for (const [kind, c] of allContainers(pod))
          this.waiting.set(containerKey(kind, c.name), { reason: 'ContainerCreating', message });
        throw err;
      }
      acted = true;
      podIP =
        pod.spec?.hostNetwork === true ? ctx.hostIP : (await ctx.runtime.podSandboxStatus(sandboxId)).ip;
      this.log.info({ sandboxId, attempt, podIP }, 'sandbox created');
    }
    if (sandboxId === undefined) return acted;
    const sandbox = this.sandboxConfig(attempt);

    // Stops run beside the worker: a grace period can last minutes, and meanwhile the
    // pod's status (readiness of its other containers) must still be reported.
    for (const k of actions.containersToKill) this.stopInBackground(k, this.gracePeriod());

    const hosts = pod.spec?.hostNetwork === true ? undefined : await this.writeHosts(podIP);
    const start = { sandboxId, sandbox, podIP, volumes, hosts, observed };
    if (actions.initToStart !== undefined) {
      acted = (await this.startContainer(actions.initToStart, 'init', start)) || acted;
    }
    for (const c of actions.containersToStart)
      acted = (await this.startContainer(c, 'regular', start)) || acted;
    return acted;
  }

  private async writeHosts(podIP: string): Promise<string> {
    const content = hostsFile(this.pod, podIP, this.ctx.clusterDns.domain);
    if (content !== this.hostsContent || this.hostsPath === undefined) {
      this.hostsPath = await this.ctx.volumes.writePodFile(this.uid, 'etc-hosts', content, 0o644);
      this.hostsContent = content;
    }
    return this.hostsPath;
  }

  /** Starts one container, after its back-off and image; returns whether a container was created. */
  private async startContainer(
    container: Container,
    kind: ContainerKind,
    s: {
      readonly sandboxId: string;
      readonly sandbox: SandboxConfig;
      readonly podIP: string;
      readonly volumes: PodVolumes;
      readonly hosts: string | undefined;
      readonly observed: ObservedPod;
    },
  ): Promise<boolean> {
    const ctx = this.ctx;
    const pod = this.pod;
    const key = containerKey(kind, container.name);
    const latest = latestByName(s.observed.containers, kind).get(container.name);
    // Its predecessor is still stopping; the sync after the stop starts it.
    if (latest !== undefined && this.stopping.has(latest.id)) return false;

    if (latest !== undefined && latest.state === 'exited') {
      // kubelet's doBackOff: the first restart is immediate, each later one waits twice as long.
      const bkey = `${this.uid}/${key}/${containerHash(container)}`;
      if (ctx.crashBackoff.isInBackOffSince(bkey, latest.finishedAtMs)) {
        const delayS = Math.round(ctx.crashBackoff.delayMs(bkey) / 1000);
        this.waiting.set(key, {
          reason: 'CrashLoopBackOff',
          message: `back-off ${formatDuration(delayS)} restarting failed container=${container.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${this.uid})`,
        });
        this.wakeAt(ctx.crashBackoff.retryAtMs(bkey, latest.finishedAtMs));
        return false;
      }
      ctx.crashBackoff.next(bkey, latest.finishedAtMs);
    }

    const image = await ctx.images.ensure(container.image ?? '', container.imagePullPolicy, this.uid);
    if (image.kind === 'failed') {
      this.waiting.set(key, { reason: image.reason, message: image.message });
      const retry = ctx.images.retryAtMs(container.image ?? '', this.uid);
      if (retry !== undefined) this.wakeAt(retry);
      this.log.warn(
        { container: container.name, reason: image.reason, message: image.message },
        'image not ready',
      );
      return false;
    }

    const restartCount = latest === undefined ? 0 : latest.restartCount + 1;
    const terminationMessageFile = await ctx.volumes.terminationMessageFile(this.uid, container.name);
    let config: Awaited<ReturnType<typeof containerConfigFor>>;
    try {
      config = await containerConfigFor(pod, container, {
        ...this.downward(s.observed),
        podIP: s.podIP,
        podIPs: s.podIP === '' ? [] : [s.podIP],
        kind,
        restartCount,
        qos: podQOSClass(pod.spec),
        nodeMemoryBytes: ctx.nodeAllocatable.memoryBytes,
        volumes: s.volumes,
        hostsFile: s.hosts,
        terminationMessageFile,
        image: image.image,
      });
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: err.message });
      this.log.warn({ container: container.name, message: err.message }, 'container config error');
      return false;
    }
    await ctx.volumes.ensureDir(`${s.sandbox.logDirectory}/${container.name}`);
    let id: string;
    try {
      id = await ctx.runtime.createContainer(s.sandboxId, config, s.sandbox);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.waiting.set(key, { reason: 'CreateContainerError', message });
      this.log.warn({ container: container.name, message }, 'create container failed');
      return false;
    }
    try {
      await ctx.runtime.startContainer(id);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.waiting.set(key, { reason: 'RunContainerError', message });
      this.log.warn({ container: container.name, message }, 'start container failed');
      return true;
    }
    this.waiting.delete(key);
    this.log.info({ container: container.name, id, restartCount }, 'container started');

    const postStart = container.lifecycle?.postStart;
    if (postStart !== undefined) {
      const r = await ctx.prober.handler(
        postStart,
        { containerId: id, container, podIP: s.podIP },
        this.gracePeriod(),
      );
      if (!r.ok) {
        this.log.warn({ container: container.name, message: r.message }, 'postStart hook failed');
        await ctx.runtime.stopContainer(id, minimumGracePeriodSeconds);
        this.waiting.set(key, { reason: 'PostStartHookError', message: r.message });
      }
    }
    return true;
  }

  /** Stops a container: preStop hook first, then the stop signal, SIGKILL after the rest of the grace period. */
  private async killContainer(order: KillOrder, graceSeconds: number): Promise<void> {
    const c = order.container;
    if (c.state !== 'running' && c.state !== 'created') return;
    const spec = allContainers(this.pod).find(([kind, s]) => kind === c.kind && s.name === c.name)?.[1];
    let grace = graceSeconds;
    const preStop = spec?.lifecycle?.preStop;
    if (preStop !== undefined && spec !== undefined && c.state === 'running') {
      const began = this.ctx.now();
      const r = await this.ctx.prober.handler(
        preStop,
        { containerId: c.id, container: spec, podIP: '' },
        grace,
      );
      if (!r.ok) this.log.warn({ container: c.name, message: r.message }, 'preStop hook failed');
      grace -= Math.floor((this.ctx.now() - began) / 1000);
    }
    this.log.info(
      { container: c.name, id: c.id, reason: order.reason, message: order.message, grace },
      'stopping container',
    );
    await this.ctx.runtime.stopContainer(c.id, Math.max(grace, minimumGracePeriodSeconds));
  }

  /** Stops every container in parallel, then the sandboxes (which releases the pod's IP). */
  private stopInBackground(order: KillOrder, graceSeconds: number): void {
    const id = order.container.id;
    if (this.stopping.has(id)) return;
    const stop = this.killContainer(order, graceSeconds)
      .catch((err) => this.log.warn({ err, container: order.container.name }, 'stopping a container failed'))
      .finally(() => {
        this.stopping.delete(id);
        this.requestSync();
      });
    this.stopping.set(id, stop);
  }

  private async killPod(observed: ObservedPod, graceSeconds: number): Promise<void> {
    await Promise.all(this.stopping.values());
    await Promise.all(
      observed.containers
        .filter((c) => c.state === 'running' || c.state === 'created')
        .map((c) =>
          this.killContainer({ container: c, reason: 'Killing', message: 'Stopping pod' }, graceSeconds),
        ),
    );
    for (const s of observed.sandboxes) if (s.state === 'ready') await this.ctx.runtime.stopPodSandbox(s.id);
  }

  private async removeAll(observed: ObservedPod): Promise<void> {
    for (const c of observed.containers) {
      await this.ctx.runtime.removeContainer(c.id);
      await removeLog(c.logPath);
    }
    for (const s of observed.sandboxes) {
      await this.ctx.runtime.stopPodSandbox(s.id);
      await this.ctx.runtime.removePodSandbox(s.id);
    }
    this.ctx.observer.forget([
      ...observed.containers.map((c) => c.id),
      ...observed.sandboxes.map((s) => s.id),
    ]);
    await this.ctx.cgroups.removePod(this.uid);
  }

  /**
   * kubelet's container GC for this pod: of each container only the latest dead instance
   * is kept (for lastState and `logs --previous`); stopped sandboxes that are not the
   * newest are removed once no container of theirs is kept.
   */
  private async collectGarbage(observed: ObservedPod): Promise<void> {
    const keep = new Set<string>();
    const keptDead = new Set<string>();
    for (const kind of ['init', 'regular'] as const)
      for (const c of latestByName(observed.containers, kind).values()) keep.add(c.id);
    for (const c of observed.containers) {
      // Newest first: the first dead instance of each container is the one kept.
      const name = `${c.kind}/${c.name}`;
      if (c.state !== 'exited' && c.state !== 'unknown') continue;
      if (!keptDead.has(name)) {
        keptDead.add(name);
        keep.add(c.id);
      }
    }
    const removed: string[] = [];
    for (const c of observed.containers) {
      if (keep.has(c.id) || c.state === 'running' || c.state === 'created') continue;
      await this.ctx.runtime.removeContainer(c.id);
      await removeLog(c.logPath);
      removed.push(c.id);
    }
    const newest = observed.sandboxes[0];
    for (const s of observed.sandboxes) {
      if (s === newest || s.state === 'ready') continue;
      if (observed.containers.some((c) => c.sandboxId === s.id && !removed.includes(c.id))) continue;
      await this.ctx.runtime.removePodSandbox(s.id);
      removed.push(s.id);
    }
    this.ctx.observer.forget(removed);
  }

  private syncProbes(observed: ObservedPod): void {
    const running = [...latestByName(observed.containers, 'regular').values()]
      .filter((c) => c.state === 'running')
      .flatMap((c) => {
        const container = this.pod.spec?.containers.find((s) => s.name === c.name);
        return container === undefined ? [] : [{ id: c.id, container, startedAtMs: c.startedAtMs }];
      });
    const prior = this.pod.status?.containerStatuses ?? [];
    this.ctx.probes.syncPod(this.uid, running, this.podIP(observed), (id) => {
      // After an agent restart, what was reported for this very container still holds.
      const s = prior.find((p) => p.containerID === `${this.ctx.runtimeName}://${id}`);
      return s === undefined ? undefined : { ready: s.ready, started: s.started === true };
    });
  }

  private async rotateLogs(observed: ObservedPod): Promise<void> {
    for (const c of observed.containers) {
      if (c.state !== 'running' || c.logPath === '') continue;
      await rotateLogIfLarge(c.logPath, () => this.ctx.runtime.reopenContainerLog(c.id)).catch((err) =>
        this.log.warn({ err, container: c.name }, 'log rotation failed'),
      );
    }
  }

  private async report(
    observed: ObservedPod,
    terminal: boolean,
    terminalReason: WaitingReason | undefined,
  ): Promise<void> {
    const ctx = this.ctx;
    const probes = ctx.probes;
    const status = computePodStatus({
      pod: this.status === undefined ? this.pod : { ...this.pod, status: this.status },
      observed,
      waiting: this.waiting,
      probes: (id) => ({ ready: probes.isReady(id), started: probes.isStarted(id) }),
      runtimeName: ctx.runtimeName,
      hostIP: ctx.hostIP,
      podIP: this.podIP(observed),
      nowMs: ctx.now(),
      terminal,
      terminalReason,
    });
    const json = canonicalJson(status);
    if (json === this.lastReported) return;
    // Recorded only once the sink took it: a failed report is sent again at the next sync.
    await ctx.statusSink.podStatus(this.ref, status);
    this.lastReported = json;
    this.status = status;
  }
}

function hasRunning(observed: ObservedPod): boolean {
  return observed.containers.some((c) => c.state === 'running' || c.state === 'created');
}

function allContainers(pod: Pod): [ContainerKind, Container][] {
  return [
    ...(pod.spec?.initContainers ?? []).map((c): [ContainerKind, Container] => ['init', c]),
    ...(pod.spec?.containers ?? []).map((c): [ContainerKind, Container] => ['regular', c]),
  ];
}

/** Go's duration format for whole seconds, as kubelet's back-off messages print it (`1m20s`). */
export function formatDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m === 0 ? `${s}s` : s === 0 ? `${m}m0s` : `${m}m${s}s`;
}
