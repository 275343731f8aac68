/**
 * N simulated nodes in one process, in the manner of KWOK: each registers its Node
 * (capacity, allocatable, Ready and pressure conditions, labels, taints), renews its
 * Lease in kube-node-lease, and plays kubelet for the pods bound to it: a pod turns
 * Running and Ready (with a pod IP and container statuses) a set delay after it is seen
 * bound, and a pod marked for deletion is removed. One list-and-watch of bound pods
 * serves every node, lease renewals are spread over the period, and writes in flight
 * are bounded, so a thousand nodes cost one process little. A node can be made to stop
 * (no heartbeats, no pod handling), as if its machine went away.
 * https://kwok.sigs.k8s.io/
 */
import type { Logger } from '@flotilla/actor';
import { nodeLeaseNamespace, nodeLeaseObject } from '@flotilla/agent/node-agent';
import {
  type ApiClient,
  isAlreadyExists,
  isConflict,
  isNotFound,
  isResourceExpired,
  type Lease,
  microTimeFromMs,
  type Node,
  type NodeCondition,
  type Pod,
  type PodCondition,
  type ResourceClient,
  StatusError,
  timeFromMs,
} from '@flotilla/api';
import { type FakeNodesConfig, type FakeNodesSummary, fakeNodeName } from './protocol.ts';

const podsRef = { group: '', version: 'v1', resource: 'pods' };
const nodesRef = { group: '', version: 'v1', resource: 'nodes' };
const leasesRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' };
const controlPlaneTaintKey = 'node-role.kubernetes.io/control-plane';
/** How often the renewal loop looks for leases that are due. */
const renewTickMs = 100;
/** Attempts of one status write that keeps hitting a newer version of the pod. */
const maxConflictRetries = 3;
/** A pod whose start or removal failed is tried again after this, doubling up to the ceiling. */
const podRetryBaseMs = 200;
const podRetryMaxMs = 5_000;

type FakeNode = {
  readonly name: string;
  readonly index: number;
  readonly ip: string;
  alive: boolean;
  registered: boolean;
  lease: Lease | undefined;
  nextRenewMs: number;
  podsStarted: number;
};

/** A counting semaphore: at most `limit` writes in flight. */
class WriteSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(limit: number) {
    this.free = limit;
  }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.free++;
    }
  }
}

export class FakeNodes {
  readonly config: FakeNodesConfig;
  private readonly pods: ResourceClient<Pod>;
  private readonly nodes: ResourceClient<Node>;
  private readonly leases: ResourceClient<Lease>;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly byName = new Map<string, FakeNode>();
  private readonly slots: WriteSlots;
  /** The latest version of every bound pod seen, by uid: a node coming back syncs its own. */
  private readonly seen = new Map<string, Pod>();
  /** Pods handled (started or being started), by uid. */
  private readonly handled = new Map<string, { node: string; running: boolean; timer?: NodeJS.Timeout }>();
  /**
   * Pods whose start or removal failed (a write timed out in a partition, say), by uid: like a
   * kubelet's pod worker, the node tries again with back-off until it succeeds or the pod is gone;
   * nothing else would bring the pod back, as no new event may ever come for it.
   */
  private readonly retries = new Map<string, { attempts: number; timer: NodeJS.Timeout | undefined }>();
  private leaseRenewals = 0;
  private writeFailures = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private watch: { cancel(): void } | undefined;
  private podLoop: Promise<void> | undefined;
  private stopped = false;

  constructor(options: { client: ApiClient; log: Logger; config: FakeNodesConfig; now?: () => number }) {
    this.config = options.config;
    this.pods = options.client.resource<Pod>(podsRef);
    this.nodes = options.client.resource<Node>(nodesRef);
    this.leases = options.client.resource<Lease>(leasesRef);
    this.log = options.log.child({ component: 'fake-nodes' });
    this.now = options.now ?? Date.now;
    this.slots = new WriteSlots(options.config.maxWritesInFlight);
    const period = options.config.leaseRenewIntervalMs;
    for (let i = 0; i < options.config.count; i++) {
      const name = fakeNodeName(options.config.prefix, i);
      this.byName.set(name, {
        name,
        index: i,
        ip: `10.${250 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
        alive: true,
        registered: false,
        lease: undefined,
        // Spread renewals evenly over the period.
        nextRenewMs: this.now() + Math.floor((period * i) / Math.max(1, options.config.count)),
        podsStarted: 0,
      });
    }
  }

  get nodeNames(): string[] {
    return [...this.byName.keys()];
  }

  /** Registers every node and its lease, then starts heartbeats and pod handling. */
  async start(): Promise<void> {
    await Promise.all([...this.byName.values()].map((n) => this.slots.run(() => this.register(n))));
    this.renewTimer = setInterval(() => this.renewDue(), renewTickMs);
    this.podLoop = this.runPods();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.renewTimer !== undefined) clearInterval(this.renewTimer);
    this.watch?.cancel();
    for (const h of this.handled.values()) if (h.timer !== undefined) clearTimeout(h.timer);
    for (const r of this.retries.values()) if (r.timer !== undefined) clearTimeout(r.timer);
    await this.podLoop;
  }

  setAlive(names: readonly string[], alive: boolean): void {
    for (const name of names) {
      const n = this.byName.get(name);
      if (n === undefined || n.alive === alive) continue;
      n.alive = alive;
      this.log.info({ node: name, alive }, alive ? 'node back' : 'node gone silent');
      if (alive) {
        n.nextRenewMs = this.now();
        void this.slots.run(() => this.postReady(n)).catch((err: unknown) => this.failed(err, 'node status'));
        // Like a kubelet restarting: catch up with what happened to its pods meanwhile.
        for (const pod of this.seen.values()) if (pod.spec?.nodeName === name) this.onPod(pod);
      }
    }
  }

  summary(): FakeNodesSummary {
    let running = 0;
    for (const h of this.handled.values()) if (h.running) running++;
    const nodes = [...this.byName.values()];
    return {
      nodes: nodes.length,
      registered: nodes.filter((n) => n.registered).length,
      alive: nodes.filter((n) => n.alive).length,
      podsRunning: running,
      leaseRenewals: this.leaseRenewals,
      writeFailures: this.writeFailures,
    };
  }

  // ---- nodes and leases ---------------------------------------------------------------------------

  private nodeObject(n: FakeNode): Node {
    const c = this.config;
    const labels: Record<string, string> = {
      'kubernetes.io/hostname': n.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      type: 'fake',
      ...(c.zones > 0 ? { 'topology.kubernetes.io/zone': `zone-${n.index % c.zones}` } : {}),
      ...(c.controlPlane ? { [controlPlaneTaintKey]: '' } : {}),
      ...c.labels,
    };
    const taints = [
      ...c.taints,
      ...(c.controlPlane ? [{ key: controlPlaneTaintKey, effect: 'NoSchedule' as const }] : []),
    ];
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, labels },
      spec: taints.length === 0 ? {} : { taints },
      status: {
        capacity: c.capacity,
        allocatable: c.capacity,
        conditions: this.conditions(true),
        addresses: [
          { type: 'InternalIP', address: n.ip },
          { type: 'Hostname', address: n.name },
        ],
        nodeInfo: {
          kubeletVersion: 'v1.31.0-fake',
          kubeProxyVersion: 'v1.31.0-fake',
          containerRuntimeVersion: 'fake://1.0',
          operatingSystem: 'linux',
          architecture: 'amd64',
          osImage: 'Flotilla fake node',
          kernelVersion: 'fake',
        },
      },
    };
  }

  private conditions(ready: boolean): NodeCondition[] {
    const now = timeFromMs(this.now());
    const ok = (type: string, reason: string, message: string): NodeCondition => ({
      type,
      status: 'False',
      lastHeartbeatTime: now,
      lastTransitionTime: now,
      reason,
      message,
    });
    return [
      ok('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      ok('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      ok('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        lastHeartbeatTime: now,
        lastTransitionTime: now,
        reason: 'KubeletReady',
        message: 'kubelet is posting ready status',
      },
    ];
  }

  private async register(n: FakeNode): Promise<void> {
    const wanted = this.nodeObject(n);
    let node: Node;
    try {
      node = await this.nodes.create(wanted);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Registered by an earlier run of this process: take it over.
      const existing = await this.nodes.get(n.name);
      node = await this.nodes.update({
        ...existing,
        metadata: { ...existing.metadata, labels: wanted.metadata.labels ?? {} },
        spec: {
          ...existing.spec,
          ...(wanted.spec?.taints === undefined ? {} : { taints: wanted.spec.taints }),
        },
      });
      node = await this.nodes.updateStatus({ ...node, status: wanted.status ?? {} });
    }
    // The same Lease a real node agent keeps.
    const lease = nodeLeaseObject(
      n.name,
      node.metadata.uid ?? '',
      this.config.leaseDurationSeconds,
      this.now(),
    );
    try {
      n.lease = await this.leases.create(lease);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await this.leases.get(n.name, nodeLeaseNamespace);
      n.lease = await this.leases.update({ ...existing, spec: { ...existing.spec, ...lease.spec } });
    }
    n.registered = true;
  }

  private renewDue(): void {
    const now = this.now();
    for (const n of this.byName.values()) {
      if (!n.alive || !n.registered || n.nextRenewMs > now) continue;
      n.nextRenewMs = now + this.config.leaseRenewIntervalMs;
      void this.slots.run(() => this.renew(n)).catch((err: unknown) => this.failed(err, 'lease renewal'));
    }
  }

  private async renew(n: FakeNode): Promise<void> {
    if (!n.alive || this.stopped) return;
    for (let attempt = 0; attempt <= maxConflictRetries; attempt++) {
      const current = n.lease ?? (await this.leases.get(n.name, nodeLeaseNamespace));
      try {
        n.lease = await this.leases.update({
          ...current,
          spec: { ...current.spec, holderIdentity: n.name, renewTime: microTimeFromMs(this.now()) },
        });
        this.leaseRenewals++;
        return;
      } catch (err) {
        if (!isConflict(err) && !isNotFound(err)) throw err;
        n.lease = undefined;
        if (isNotFound(err)) {
          await this.register(n);
          return;
        }
      }
    }
  }

  /** The kubelet posting Ready again after a silence (the node lifecycle controller set Unknown). */
  private async postReady(n: FakeNode): Promise<void> {
    for (let attempt = 0; attempt <= maxConflictRetries; attempt++) {
      const node = await this.nodes.get(n.name);
      try {
        await this.nodes.updateStatus({
          ...node,
          status: { ...node.status, conditions: this.conditions(true) },
        });
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  // ---- pods ------------------------------------------------------------------------------------

  /** One list and watch of every bound pod, resumed after breaks and listed again after a 410. */
  private async runPods(): Promise<void> {
    let revision: string | undefined;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (revision === undefined) {
          const list = await this.pods.list({ fieldSelector: 'spec.nodeName!=' });
          for (const p of list.items) this.onPod(p);
          revision = list.metadata.resourceVersion ?? '';
        }
        const watch = this.pods.watch({ fieldSelector: 'spec.nodeName!=', resourceVersion: revision });
        this.watch = watch;
        for await (const e of watch) {
          if (this.stopped) break;
          if (e.type === 'ERROR') throw new StatusError(e.object);
          revision = e.object.metadata.resourceVersion ?? revision;
          if (e.type === 'DELETED') this.onPodGone(e.object);
          else if (e.type !== 'BOOKMARK') this.onPod(e.object);
          failures = 0;
        }
      } catch (err) {
        if (this.stopped) break;
        if (isResourceExpired(err)) revision = undefined;
        failures++;
        this.log.warn({ err, failures }, 'pod watch failed; resuming');
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  private onPod(pod: Pod): void {
    const node = this.byName.get(pod.spec?.nodeName ?? '');
    const uid = pod.metadata.uid ?? '';
    if (node === undefined) return;
    this.seen.set(uid, pod);
    if (!node.alive) return;
    if (pod.metadata.deletionTimestamp !== undefined) {
      // The kubelet stops the containers and removes the pod (at once: nothing runs).
      const h = this.handled.get(uid);
      if (h?.timer !== undefined) clearTimeout(h.timer);
      this.handled.delete(uid);
      void this.slots
        .run(() => this.remove(pod))
        .then(
          () => this.retries.delete(uid),
          (err: unknown) => {
            this.failed(err, 'pod removal');
            this.retryLater(uid);
          },
        );
      return;
    }
    if (this.handled.has(uid) || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    if (pod.status?.phase === 'Running') {
      this.handled.set(uid, { node: node.name, running: true });
      return;
    }
    const entry: { node: string; running: boolean; timer?: NodeJS.Timeout } = {
      node: node.name,
      running: false,
    };
    this.handled.set(uid, entry);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.slots
        .run(() => this.startPod(pod, node))
        .then((ok) => {
          this.retries.delete(uid);
          if (ok) entry.running = true;
          else this.handled.delete(uid);
        })
        .catch((err: unknown) => {
          this.handled.delete(uid);
          this.failed(err, 'pod start');
          this.retryLater(uid);
        });
    }, this.config.podReadyDelayMs);
  }

  private onPodGone(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    this.seen.delete(uid);
    const h = this.handled.get(uid);
    if (h?.timer !== undefined) clearTimeout(h.timer);
    this.handled.delete(uid);
    const r = this.retries.get(uid);
    if (r?.timer !== undefined) clearTimeout(r.timer);
    this.retries.delete(uid);
  }

  /** Handles the pod's latest version again after a back-off (a failed start or removal). */
  private retryLater(uid: string): void {
    if (this.stopped) return;
    const r = this.retries.get(uid) ?? { attempts: 0, timer: undefined };
    if (r.timer !== undefined) clearTimeout(r.timer);
    r.attempts += 1;
    r.timer = setTimeout(
      () => {
        r.timer = undefined;
        const pod = this.seen.get(uid);
        if (pod === undefined || this.stopped) this.retries.delete(uid);
        else this.onPod(pod);
      },
      Math.min(podRetryMaxMs, podRetryBaseMs * 2 ** (r.attempts - 1)),
    );
    this.retries.set(uid, r);
  }

  private async startPod(seen: Pod, node: FakeNode): Promise<boolean> {
    let pod = seen;
    const name = pod.metadata.name ?? '';
    const namespace = pod.metadata.namespace ?? 'default';
    const podIP = `10.${128 + (node.index >> 8)}.${node.index & 255}.${2 + (node.podsStarted++ % 250)}`;
    for (let attempt = 0; attempt <= maxConflictRetries; attempt++) {
      if (!node.alive || this.stopped || pod.metadata.deletionTimestamp !== undefined) return false;
      const now = timeFromMs(this.now());
      const conditions: PodCondition[] = ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map(
        (type) => ({
          type,
          status: 'True',
          lastTransitionTime: now,
        }),
      );
      try {
        await this.pods.updateStatus({
          ...pod,
          status: {
            ...pod.status,
            phase: 'Running',
            conditions,
            hostIP: node.ip,
            hostIPs: [{ ip: node.ip }],
            podIP,
            podIPs: [{ ip: podIP }],
            startTime: now,
            containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
              name: c.name,
              ready: true,
              started: true,
              restartCount: 0,
              image: c.image ?? '',
              imageID: `fake://${c.image ?? ''}`,
              containerID: `fake://${pod.metadata.uid}/${c.name}`,
              state: { running: { startedAt: now } },
            })),
          },
        });
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        if (!isConflict(err)) throw err;
        pod = await this.pods.get(name, namespace);
        if (pod.metadata.uid !== seen.metadata.uid) return false;
      }
    }
    throw new Error(
      `the status of pod ${namespace}/${name} kept conflicting (${maxConflictRetries + 1} tries)`,
    );
  }

  private async remove(pod: Pod): Promise<void> {
    try {
      await this.pods.delete(pod.metadata.name ?? '', {
        namespace: pod.metadata.namespace ?? 'default',
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid ?? '' },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private failed(err: unknown, what: string): void {
    this.writeFailures++;
    this.log.warn({ err, what }, 'fake node write failed');
  }
}
