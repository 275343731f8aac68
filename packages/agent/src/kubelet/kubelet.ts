import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, sleep } from '@flotilla/actor';
import type { PodStatus } from '@flotilla/api';
import { defaultPod } from '@flotilla/api';
import { PodNotFoundError } from '../errors.ts';
import type { ContainerSummary, ExecResult, Runtime, SandboxSummary } from '../runtime/runtime.ts';
import { type LogOptions, readContainerLog, removeLog } from './container-logs.ts';
import { ImageManager } from './image-manager.ts';
import { gracePeriodAnnotation, nodeLabel, podNameLabel, podNamespaceLabel, podUidLabel } from './labels.ts';
import { latestByName, RuntimeObserver } from './observed.ts';
import { NoPodCgroups, type PodCgroups } from './pod-cgroups.ts';
import type { ObjectLookup, PodEvent, PodSource, StatusSink } from './pod-source.ts';
import { minimumGracePeriodSeconds, PodWorker, type WorkerContext } from './pod-worker.ts';
import { ProbeManager } from './probe-manager.ts';
import type { Prober } from './prober.ts';
import { defaultRestartBackoff, RestartBackoff, type RestartBackoffPolicy } from './restart-backoff.ts';
import { type ClusterDns, defaultClusterDns, parseResolvConf, type ResolvConf } from './sandbox-config.ts';
import type { VolumeManager } from './volumes.ts';

export type KubeletOptions = {
  readonly nodeName: string;
  readonly runtime: Runtime;
  /** The scheme of container IDs in pod status (`containerd://…`). */
  readonly runtimeName: string;
  readonly source: PodSource;
  readonly statusSink: StatusSink;
  readonly lookup: ObjectLookup;
  readonly volumes: VolumeManager;
  /** Where pods go in the cgroup tree; by default wherever the runtime puts them. */
  readonly cgroups?: PodCgroups;
  readonly prober: Prober;
  /** The root of the pods' CRI log directories. */
  readonly podLogsDir: string;
  readonly hostIP: string;
  readonly clusterDns?: ClusterDns;
  /** The node's resolver settings for dnsPolicy Default; read from /etc/resolv.conf when not given. */
  readonly hostResolvConf?: ResolvConf;
  readonly nodeAllocatable: { readonly cpuMilli: number; readonly memoryBytes: number };
  /** CrashLoopBackOff: 10 s doubling to 5 min, reset after 10 min (tests shorten the first delay). */
  readonly crashLoopBackoff?: Partial<RestartBackoffPolicy>;
  readonly imagePullBackoff?: Partial<RestartBackoffPolicy>;
  /** How often the runtime is listed to notice containers that changed (kubelet's PLEG relist). */
  readonly relistIntervalMs?: number;
  /** How often every pod is synced even when nothing was noticed (kubelet's sync frequency). */
  readonly resyncIntervalMs?: number;
  /** How many pods sync at the same time. */
  readonly maxConcurrentSyncs?: number;
  /** How often configMap and secret volumes are refreshed from their objects. */
  readonly volumeRefreshIntervalMs?: number;
  readonly logger: Logger;
  readonly now?: () => number;
};

export const defaultRelistIntervalMs = 1_000;
export const defaultResyncIntervalMs = 10_000;
export const defaultMaxConcurrentSyncs = 8;
/** kubelet refreshes configMap and secret volumes on its periodic sync; this is ours. */
export const defaultVolumeRefreshIntervalMs = 30_000;
/** How long `stop` waits for running syncs before it gives up on them. */
const stopWaitMs = 30_000;

/** A counting semaphore whose waiters are bounded by the number of pod workers. */
class Semaphore {
  private free: number;
  private readonly waiters: (() => void)[] = [];
  constructor(permits: number) {
    this.free = permits;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next !== undefined) next();
      else this.free += 1;
    };
  }
}

/**
 * The node agent's kubelet: takes the desired pods of its node from a `PodSource`,
 * runs one `PodWorker` per pod against the runtime, reports statuses to a `StatusSink`.
 * Started again on a node whose pods still run, it adopts them: they are found by their
 * labels and left alone. What runs without a desired pod is removed, once the source
 * says its listing is complete.
 */
export class Kubelet {
  private readonly options: KubeletOptions;
  private readonly log: Logger;
  private readonly ctx: WorkerContext;
  private readonly probes: ProbeManager;
  private readonly workers = new Map<string, PodWorker>();
  private readonly cleaning = new Set<string>();
  private readonly loops: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private fingerprints = new Map<string, string>();
  private synced = false;
  private stopped = false;

  constructor(options: KubeletOptions) {
    this.options = options;
    this.log = options.logger.child({ component: 'kubelet', node: options.nodeName });
    const now = options.now ?? Date.now;
    this.probes = new ProbeManager({
      prober: options.prober,
      onChange: (uid) => this.workers.get(uid)?.requestSync(),
      logger: this.log,
      now,
    });
    const semaphore = new Semaphore(options.maxConcurrentSyncs ?? defaultMaxConcurrentSyncs);
    this.ctx = {
      nodeName: options.nodeName,
      runtime: options.runtime,
      runtimeName: options.runtimeName,
      observer: new RuntimeObserver(options.runtime, options.nodeName),
      images: new ImageManager(
        options.runtime,
        { ...defaultRestartBackoff, ...options.imagePullBackoff },
        now,
      ),
      volumes: options.volumes,
      cgroups: options.cgroups ?? new NoPodCgroups(),
      probes: this.probes,
      prober: options.prober,
      crashBackoff: new RestartBackoff({ ...defaultRestartBackoff, ...options.crashLoopBackoff }, now),
      statusSink: options.statusSink,
      lookup: options.lookup,
      hostIP: options.hostIP,
      podLogsDir: options.podLogsDir,
      volumeRefreshMs: options.volumeRefreshIntervalMs ?? defaultVolumeRefreshIntervalMs,
      clusterDns: options.clusterDns ?? defaultClusterDns,
      hostResolvConf: options.hostResolvConf ?? readHostResolvConf(),
      nodeAllocatable: options.nodeAllocatable,
      log: this.log,
      now,
      acquireSync: () => semaphore.acquire(),
      workerDone: (uid) => this.workers.delete(uid),
    };
  }

  /** Starts consuming the pod source and watching the runtime; resolves at once. */
  start(): void {
    this.loops.push(
      this.consume(),
      this.every(this.options.relistIntervalMs ?? defaultRelistIntervalMs, () => this.relist()),
    );
    this.loops.push(
      this.every(this.options.resyncIntervalMs ?? defaultResyncIntervalMs, async () => {
        for (const w of this.workers.values()) w.requestSync();
        this.ctx.crashBackoff.gc();
        await this.housekeeping();
      }),
    );
  }

  /** Stops the kubelet's own work. Pods keep running; a new kubelet adopts them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.probes.stop();
    const done = Promise.all([...this.workers.values()].map((w) => w.stop()));
    await Promise.race([done, sleep(stopWaitMs)]);
    await Promise.race([Promise.allSettled(this.loops), sleep(stopWaitMs)]);
  }

  /** The status last reported for a pod on this node. */
  podStatus(uid: string): PodStatus | undefined {
    return this.workers.get(uid)?.lastStatus;
  }

  get podCount(): number {
    return this.workers.size;
  }

  /** Runs a command in a running container (kubectl exec without a terminal). */
  async exec(
    pod: { readonly namespace: string; readonly name: string },
    containerName: string,
    command: readonly string[],
    timeoutSeconds: number,
  ): Promise<ExecResult> {
    const worker = this.find(pod);
    const observed = await this.ctx.observer.observePod(worker.uid);
    const c = latestByName(observed.containers, 'regular').get(containerName);
    if (c === undefined || c.state !== 'running') {
      throw new PodNotFoundError(
        `container ${containerName} is not running in pod ${pod.namespace}/${pod.name}`,
      );
    }
    return this.options.runtime.execSync(c.id, command, timeoutSeconds);
  }

  /**
   * A container's log as `kubectl logs` reads it. Which instance follows kubelet's
   * validateContainerLogStatus: the running one, else the last one that terminated;
   * with `previous`, the one the status shows as lastState (for a container waiting in
   * CrashLoopBackOff that is the run that just crashed).
   */
  async *logs(
    pod: { readonly namespace: string; readonly name: string },
    containerName: string,
    options: LogOptions & { readonly previous?: boolean },
    signal?: AbortSignal,
  ): AsyncGenerator<Buffer> {
    const worker = this.find(pod);
    const status = worker.lastStatus;
    const cs = [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])].find(
      (c) => c.name === containerName,
    );
    let containerID: string | undefined;
    if (options.previous === true) {
      containerID = cs?.lastState?.terminated?.containerID;
      if (!containerID) {
        throw new PodNotFoundError(
          `previous terminated container "${containerName}" in pod "${pod.name}" not found`,
        );
      }
    } else {
      containerID =
        cs?.state?.running !== undefined
          ? cs.containerID
          : cs?.state?.terminated?.containerID || cs?.lastState?.terminated?.containerID;
      if (!containerID) {
        throw new PodNotFoundError(
          `container "${containerName}" in pod "${pod.name}" is waiting to start: ${cs?.state?.waiting?.reason ?? 'ContainerCreating'}`,
        );
      }
    }
    const id = containerID.slice(containerID.indexOf('://') + 3);
    const observed = await this.ctx.observer.observePod(worker.uid);
    const c = observed.containers.find((x) => x.id === id);
    if (c === undefined) throw new PodNotFoundError(`container ${id} of pod "${pod.name}" is gone`);
    const runtime = this.options.runtime;
    const stillRunning = async () => {
      try {
        return (await runtime.containerStatus(c.id)).state === 'running';
      } catch {
        return false;
      }
    };
    yield* readContainerLog(
      c.logPath,
      { ...options, follow: options.follow === true && options.previous !== true },
      stillRunning,
      signal,
    );
  }

  private find(pod: { readonly namespace: string; readonly name: string }): PodWorker {
    for (const w of this.workers.values()) {
      const ref = w.ref;
      if (ref.namespace === pod.namespace && ref.name === pod.name && !w.isDeleted) return w;
    }
    throw new PodNotFoundError(`pod ${pod.namespace}/${pod.name} is not on node ${this.options.nodeName}`);
  }

  private async consume(): Promise<void> {
    const it = this.options.source[Symbol.asyncIterator]();
    const aborted = new Promise<IteratorResult<PodEvent>>((resolve) =>
      this.abort.signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), {
        once: true,
      }),
    );
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done === true || this.stopped) break;
      try {
        this.handle(next.value);
      } catch (err) {
        this.log.error({ err }, 'pod event could not be handled');
      }
    }
    // Not awaited: a generator parked on its next event would only finish after that event.
    void it.return?.();
  }

  private handle(event: PodEvent): void {
    switch (event.kind) {
      case 'added':
      case 'updated': {
        const pod = defaultPod(event.pod);
        const uid = pod.metadata.uid;
        if (!uid) {
          this.log.warn({ pod: pod.metadata.name }, 'pod without uid ignored');
          return;
        }
        if (pod.spec?.nodeName && pod.spec.nodeName !== this.options.nodeName) return;
        const worker = this.workers.get(uid);
        if (worker !== undefined) worker.update(pod);
        else {
          const w = new PodWorker(pod, this.ctx);
          this.workers.set(uid, w);
          w.requestSync();
        }
        return;
      }
      case 'deleted': {
        const pod = defaultPod(event.pod);
        const uid = pod.metadata.uid ?? '';
        let worker = this.workers.get(uid);
        if (worker === undefined) {
          // Never seen (or the agent restarted since): still clean up what may run.
          worker = new PodWorker(pod, this.ctx);
          this.workers.set(uid, worker);
        }
        worker.markDeleted(pod);
        return;
      }
      case 'synced':
        if (!this.synced) {
          this.synced = true;
          this.log.info({ pods: this.workers.size }, 'pod source synced');
          void this.housekeeping();
        }
        return;
    }
  }

  private async every(intervalMs: number, fn: () => Promise<void>): Promise<void> {
    while (!this.stopped) {
      try {
        await fn();
      } catch (err) {
        if (!this.stopped) this.log.warn({ err }, 'periodic kubelet task failed');
      }
      await sleep(intervalMs, this.abort.signal).catch(() => undefined);
    }
  }

  /** kubelet's PLEG: one listing of the runtime; pods whose containers changed get a sync. */
  private async relist(): Promise<void> {
    const labels = { [nodeLabel]: this.options.nodeName };
    const [sandboxes, containers] = await Promise.all([
      this.options.runtime.listPodSandboxes({ labels }),
      this.options.runtime.listContainers({ labels }),
    ]);
    const next = new Map<string, string[]>();
    const add = (uid: string | undefined, entry: string) => {
      if (uid === undefined) return;
      const list = next.get(uid) ?? [];
      list.push(entry);
      next.set(uid, list);
    };
    for (const s of sandboxes) add(s.labels[podUidLabel], `s:${s.id}:${s.state}`);
    for (const c of containers) add(c.labels[podUidLabel], `c:${c.id}:${c.state}`);
    const fingerprints = new Map([...next].map(([uid, list]) => [uid, list.sort().join(',')]));
    for (const [uid, fp] of fingerprints) {
      if (this.fingerprints.get(uid) === fp) continue;
      const w = this.workers.get(uid);
      if (w !== undefined) w.requestSync();
      else if (this.synced) void this.removeOrphan(uid, sandboxes, containers);
    }
    for (const uid of this.fingerprints.keys())
      if (!fingerprints.has(uid)) this.workers.get(uid)?.requestSync();
    this.fingerprints = fingerprints;
  }

  /** Orphans: what runs, or is on disk, for pods this node should not have. Only after the source synced. */
  private async housekeeping(): Promise<void> {
    if (!this.synced || this.stopped) return;
    const labels = { [nodeLabel]: this.options.nodeName };
    const [sandboxes, containers] = await Promise.all([
      this.options.runtime.listPodSandboxes({ labels }),
      this.options.runtime.listContainers({ labels }),
    ]);
    const uids = new Set<string>();
    for (const o of [...sandboxes, ...containers]) {
      const uid = o.labels[podUidLabel];
      if (uid !== undefined && !this.workers.has(uid)) uids.add(uid);
    }
    for (const uid of uids) await this.removeOrphan(uid, sandboxes, containers);
    for (const uid of await this.options.volumes.podsOnDisk()) {
      if (!this.workers.has(uid) && !uids.has(uid) && !this.cleaning.has(uid))
        await this.options.volumes.tearDownPod(uid);
    }
  }

  private async removeOrphan(
    uid: string,
    sandboxes: readonly SandboxSummary[],
    containers: readonly ContainerSummary[],
  ): Promise<void> {
    if (this.cleaning.has(uid) || this.workers.has(uid) || this.stopped) return;
    this.cleaning.add(uid);
    const runtime = this.options.runtime;
    try {
      const mine = containers.filter((c) => c.labels[podUidLabel] === uid);
      const boxes = sandboxes.filter((s) => s.labels[podUidLabel] === uid);
      const any = boxes[0] ?? mine[0];
      this.log.info(
        {
          uid,
          pod: `${any?.labels[podNamespaceLabel]}/${any?.labels[podNameLabel]}`,
          containers: mine.length,
        },
        'removing an orphaned pod',
      );
      await Promise.all(
        mine
          .filter((c) => c.state === 'running' || c.state === 'created')
          .map((c) => {
            const grace = Number.parseInt(c.annotations[gracePeriodAnnotation] ?? '30', 10);
            return runtime.stopContainer(
              c.id,
              Math.max(minimumGracePeriodSeconds, Number.isFinite(grace) ? grace : 30),
            );
          }),
      );
      for (const c of mine) {
        const logPath = await runtime
          .containerStatus(c.id)
          .then((s) => s.logPath)
          .catch(() => '');
        await runtime.removeContainer(c.id);
        await removeLog(logPath);
      }
      for (const s of boxes) {
        await runtime.stopPodSandbox(s.id);
        await runtime.removePodSandbox(s.id);
      }
      this.ctx.observer.forget([...mine.map((c) => c.id), ...boxes.map((s) => s.id)]);
      await this.ctx.cgroups.removePod(uid);
      await this.options.volumes.tearDownPod(uid);
      const ns = any?.labels[podNamespaceLabel];
      const name = any?.labels[podNameLabel];
      if (ns !== undefined && name !== undefined) {
        await this.options.volumes.removeDir(join(this.options.podLogsDir, `${ns}_${name}_${uid}`));
      }
    } catch (err) {
      this.log.warn({ err, uid }, 'orphan removal failed; retried at the next housekeeping');
    } finally {
      this.cleaning.delete(uid);
    }
  }
}

function readHostResolvConf(): ResolvConf {
  try {
    return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return { servers: [], searches: [], options: [] };
  }
}
