import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { assertNever } from '@flotilla/actor';
import {
  type ApiClient,
  type Deployment,
  isPodActive,
  isPodReady,
  type KubeObject,
  NatsApiClient,
  type Node,
  type Pod,
  type ResourceRef,
  StatusError,
  type WatchEvent,
} from '@flotilla/api';
import {
  defaultFakeNodesConfig,
  type FakeNodesConfig,
  fakeNodesConfigEnvVar,
} from '../fake-nodes/protocol.ts';
import type { ChaosCluster } from '../faults/chaos-cluster.ts';
import { ManagedProcess } from '../process.ts';
import { eventsUpTo } from './kv-chaos-workload.ts';
import type { ChaosWorkload, OperationOutcome, WorkloadCheck } from './workload.ts';

const deploymentsRef: ResourceRef = { group: 'apps', version: 'v1', resource: 'deployments' };
const podsRef: ResourceRef = { group: '', version: 'v1', resource: 'pods' };
const nodesRef: ResourceRef = { group: '', version: 'v1', resource: 'nodes' };
const fakeNodesMain = fileURLToPath(new URL('../fake-nodes/main.ts', import.meta.url));
/** The annotation of the pod template a roll changes (a new ReplicaSet each time). */
const revAnnotation = 'chaos.flotilla.dev/rev';
/** More unknown writes than this on one Deployment, and its final state is not checked. */
const maxViolationsPerCheck = 20;
/**
 * The deadline of one write of the workload. A write gets a single attempt (it is not
 * idempotent), so one stalled by a partition (its request or reply lost on a cut NATS
 * route, or the API server's store calls retrying) ends only at the deadline: with the API
 * client's default of 10 s, a scenario of a few seconds was seen to end with every worker
 * waiting out such a write (1 write acknowledged, 4 unknown). Its outcome is unknown
 * either way, which the checks allow for.
 */
const writeTimeoutMs = 3_000;

export type DeploymentsWorkloadOptions = {
  /** Deployments churned (each owned by one worker, so that its writes are in order). */
  readonly deployments?: number;
  readonly workers?: number;
  /** Fake nodes (KWOK-style: pods become Running and Ready after a short delay). */
  readonly nodes?: number;
  readonly namespace?: string;
  readonly maxReplicas?: number;
  /** Each worker's pause between two writes. */
  readonly pauseMs?: number;
  /** Once healed, how long the controllers get to bring every Deployment to its desired state. */
  readonly convergeTimeoutMs?: number;
};

type OpKind = 'create' | 'scale' | 'roll' | 'delete';

/** One write of the workload, with what it asked for and how it ended. */
type Write = {
  readonly kind: OpKind;
  readonly deployment: string;
  readonly replicas?: number;
  readonly rev?: number;
  readonly result: 'ok' | 'failed' | 'unknown';
  readonly callMs: number;
  readonly endMs: number;
};

/** A watch's events as recorded: name, revision and whether the object was deleted. */
type Seen = { readonly name: string; readonly rv: number; readonly deleted: boolean };

/** A watch of the workload's namespace that must see every change of its resource in order. */
class RecordedWatch {
  readonly events: Seen[] = [];
  readonly problems: string[] = [];
  /** The watch starts after this revision (the list's). */
  readonly fromRv: number;
  lastRv: number;
  private readonly stream: AsyncIterableIterator<WatchEvent<KubeObject>> & { cancel(): void };
  private readonly done: Promise<void>;

  constructor(api: ApiClient, ref: ResourceRef, namespace: string, fromRv: number) {
    this.fromRv = fromRv;
    this.lastRv = fromRv;
    this.stream = api.resource<KubeObject>(ref).watch({
      namespace,
      resourceVersion: String(fromRv),
      allowWatchBookmarks: true,
    });
    this.done = this.consume().catch((err: unknown) => {
      this.problems.push(`watch failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private async consume(): Promise<void> {
    for await (const e of this.stream) {
      if (e.type === 'ERROR') {
        this.problems.push(`watch error: ${e.object.message ?? e.object.reason ?? e.object.code}`);
        return;
      }
      const rv = Number(e.object.metadata.resourceVersion);
      if (e.type === 'BOOKMARK') {
        if (rv < this.lastRv) this.problems.push(`bookmark went back from ${this.lastRv} to ${rv}`);
        this.lastRv = Math.max(this.lastRv, rv);
        continue;
      }
      // Every write is its own revision: events of a watch only go forward.
      if (rv <= this.lastRv) this.problems.push(`resourceVersion did not grow: ${rv} after ${this.lastRv}`);
      this.lastRv = Math.max(this.lastRv, rv);
      this.events.push({ name: e.object.metadata.name ?? '', rv, deleted: e.type === 'DELETED' });
    }
  }

  async stop(): Promise<void> {
    this.stream.cancel();
    await Promise.race([this.done, delay(10_000)]);
  }
}

/**
 * The Kubernetes-level chaos workload: Deployments created, scaled, rolled and deleted
 * through the API servers (over NATS) while fake nodes run their pods, checked for no lost
 * acknowledged write, resourceVersions that only grow on every watch, watch streams without
 * gaps (against the store's own history of those objects), and convergence once the faults
 * are undone (every Deployment at its desired state, no pod beyond it).
 */
export class DeploymentsWorkload implements ChaosWorkload {
  readonly name = 'deployments';
  private readonly cluster: ChaosCluster;
  private readonly options: Required<DeploymentsWorkloadOptions>;
  private readonly writes: Write[] = [];
  private readonly ended: OperationOutcome[] = [];
  private api!: ApiClient;
  /** The same connection, with the workload's short write deadline. */
  private writer!: ApiClient;
  private nodes: ManagedProcess | undefined;
  private watches: { ref: ResourceRef; prefix: string; watch: RecordedWatch }[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(cluster: ChaosCluster, options: DeploymentsWorkloadOptions = {}) {
    this.cluster = cluster;
    this.options = {
      deployments: options.deployments ?? 8,
      workers: options.workers ?? 4,
      nodes: options.nodes ?? 4,
      namespace: options.namespace ?? 'default',
      maxReplicas: options.maxReplicas ?? 3,
      pauseMs: options.pauseMs ?? 150,
      convergeTimeoutMs: options.convergeTimeoutMs ?? 120_000,
    };
  }

  outcomes(): readonly OperationOutcome[] {
    return this.ended;
  }

  async start(): Promise<void> {
    if (this.cluster.controlPlaneHosts.length === 0)
      throw new Error('the deployments workload needs a cluster started with controlPlane: true');
    const urls = this.cluster.controlPlaneHosts.map((h) => this.cluster.backend.natsUrl(h));
    const system = await this.cluster.connect(urls);
    this.api = new NatsApiClient({ system, clusterId: this.cluster.clusterId });
    this.writer = new NatsApiClient({ system, clusterId: this.cluster.clusterId, timeoutMs: writeTimeoutMs });
    const nodesConfig: FakeNodesConfig = {
      ...defaultFakeNodesConfig,
      name: 'chaos',
      count: this.options.nodes,
      podReadyDelayMs: 100,
    };
    this.nodes = new ManagedProcess({
      name: 'fake-nodes',
      command: process.execPath,
      args: [fakeNodesMain],
      env: {
        [fakeNodesConfigEnvVar]: JSON.stringify(nodesConfig),
        FLOTILLA_CLUSTER_ID: this.cluster.clusterId,
        FLOTILLA_NATS_URLS: urls.join(','),
        FLOTILLA_LOG_LEVEL: 'warn',
      },
      logFile: join(this.cluster.dir, 'fake-nodes.log'),
    }).start();
    await this.waitNodes();
    const ns = this.options.namespace;
    for (const [ref, prefix] of [
      [deploymentsRef, `/registry/apps/deployments/${ns}/`],
      [podsRef, `/registry/core/pods/${ns}/`],
    ] as const) {
      const list = await this.api.resource(ref).list({ namespace: ns });
      const fromRv = Number(list.metadata.resourceVersion);
      this.watches.push({ ref, prefix, watch: new RecordedWatch(this.api, ref, ns, fromRv) });
    }
    this.running = true;
    this.loops = Array.from({ length: this.options.workers }, (_, w) => this.worker(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  async check(): Promise<WorkloadCheck> {
    const violations: string[] = [];
    const converged = await this.converge();
    if (converged !== undefined) violations.push(converged);
    violations.push(...(await this.lostWrites()));
    violations.push(...(await this.checkWatches()));
    await this.nodes?.dispose();
    const counts = { ok: 0, failed: 0, unknown: 0 };
    for (const w of this.writes) counts[w.result] += 1;
    return {
      violations: violations.slice(0, maxViolationsPerCheck),
      details: {
        deploymentWritesOk: counts.ok,
        deploymentWritesFailed: counts.failed,
        deploymentWritesUnknown: counts.unknown,
        deploymentsConverged: converged === undefined,
        deploymentWatchEvents: this.watches[0]?.watch.events.length ?? 0,
        podWatchEvents: this.watches[1]?.watch.events.length ?? 0,
      },
    };
  }

  private async waitNodes(): Promise<void> {
    const deadline = performance.now() + 60_000;
    for (;;) {
      if (!this.nodes?.running) throw new Error(`fake nodes exited; see ${this.nodes?.spec.logFile}`);
      const list = await this.api
        .resource<Node>(nodesRef)
        .list()
        .catch(() => undefined);
      if ((list?.items.length ?? 0) >= this.options.nodes) return;
      if (performance.now() > deadline) throw new Error('fake nodes did not register in 60 s');
      await delay(200);
    }
  }

  private async worker(w: number): Promise<void> {
    const mine = Array.from({ length: this.options.deployments }, (_, i) => i)
      .filter((i) => i % this.options.workers === w)
      .map((i) => `chaos-${i}`);
    // What this worker believes exists (an unknown outcome leaves it guessing: both are tried).
    const exists = new Map<string, boolean>(mine.map((d) => [d, false]));
    let rnd = (w + 1) * 2654435761;
    const random = () => {
      rnd = (Math.imul(rnd, 48271) + 11) >>> 0;
      return rnd / 2 ** 32;
    };
    let rev = 0;
    while (this.running) {
      const d = mine[Math.floor(random() * mine.length)]!;
      const r = random();
      const replicas = 1 + Math.floor(random() * this.options.maxReplicas);
      let kind: OpKind;
      if (!exists.get(d)) kind = r < 0.9 ? 'create' : 'delete';
      else if (r < 0.4) kind = 'scale';
      else if (r < 0.8) kind = 'roll';
      else if (r < 0.95) kind = 'delete';
      else kind = 'create';
      rev += 1;
      const write = await this.write(kind, d, replicas, w * 1_000_000 + rev);
      if (write.result === 'ok' || write.result === 'failed') {
        if (write.result === 'ok') exists.set(d, kind !== 'delete');
        else if (write.kind === 'create')
          exists.set(d, true); // 409: it exists
        else if (write.kind !== 'delete') exists.set(d, false); // 404: it does not
      } else {
        exists.set(d, random() < 0.5);
      }
      await delay(this.options.pauseMs);
    }
  }

  private async write(kind: OpKind, name: string, replicas: number, rev: number): Promise<Write> {
    const deployments = this.writer.resource<Deployment>(deploymentsRef);
    const namespace = this.options.namespace;
    const callMs = performance.now();
    let result: Write['result'] = 'ok';
    try {
      switch (kind) {
        case 'create':
          await deployments.create(deploymentObject(name, namespace, replicas));
          break;
        case 'scale':
          await deployments.patch(name, 'merge', { spec: { replicas } }, { namespace });
          break;
        case 'roll':
          await deployments.patch(
            name,
            'merge',
            { spec: { template: { metadata: { annotations: { [revAnnotation]: String(rev) } } } } },
            { namespace },
          );
          break;
        case 'delete':
          await deployments.delete(name, { namespace, propagationPolicy: 'Background' });
          break;
        default:
          assertNever(kind, 'write');
      }
    } catch (err) {
      result = isRefusal(err) ? 'failed' : 'unknown';
    }
    const write: Write = {
      kind,
      deployment: name,
      ...(kind === 'create' || kind === 'scale' ? { replicas } : {}),
      ...(kind === 'create' ? { rev: 0 } : kind === 'roll' ? { rev } : {}),
      result,
      callMs,
      endMs: performance.now(),
    };
    this.writes.push(write);
    this.ended.push({ kind: `deployment-${kind}`, result, callMs, endMs: write.endMs });
    return write;
  }

  /** Until every Deployment is at its desired state with exactly its pods (bounded); a problem or undefined. */
  private async converge(): Promise<string | undefined> {
    const deadline = performance.now() + this.options.convergeTimeoutMs;
    let last = '';
    while (performance.now() < deadline) {
      last = await this.divergence().catch((err: unknown) => `cannot read the cluster: ${String(err)}`);
      if (last === '') return undefined;
      await delay(500);
    }
    return `Deployments did not converge within ${this.options.convergeTimeoutMs} ms: ${last}`;
  }

  /** '' when converged, else what is off. */
  private async divergence(): Promise<string> {
    const ns = this.options.namespace;
    const deployments = (await this.api.resource<Deployment>(deploymentsRef).list({ namespace: ns })).items;
    const pods = (await this.api.resource<Pod>(podsRef).list({ namespace: ns })).items.filter(isPodActive);
    const problems: string[] = [];
    const names = new Set<string>();
    for (const d of deployments) {
      const name = d.metadata.name ?? '';
      names.add(name);
      const want = d.spec?.replicas ?? 1;
      const st = d.status ?? {};
      const mine = pods.filter((p) => p.metadata.labels?.app === name);
      const ready = mine.filter(isPodReady).length;
      const current = (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
      if (!current || st.updatedReplicas !== want || st.readyReplicas !== want || st.replicas !== want)
        problems.push(`${name}: status ${JSON.stringify(st)} for ${want} replica(s)`);
      if (mine.length !== want || ready !== want)
        problems.push(`${name}: ${mine.length} active pod(s), ${ready} ready, for ${want}`);
    }
    const orphans = pods.filter((p) => !names.has(p.metadata.labels?.app ?? ''));
    if (orphans.length > 0) problems.push(`${orphans.length} active pod(s) of deleted Deployments`);
    return problems.slice(0, 5).join('; ');
  }

  /**
   * Every acknowledged write shows in what is left: for each Deployment, whether it exists,
   * its replicas and its template revision must be what its last acknowledged write set, or
   * what one of its writes of unknown outcome set (those may take effect at any later time).
   */
  private async lostWrites(): Promise<string[]> {
    const out: string[] = [];
    const names = [...new Set(this.writes.map((w) => w.deployment))];
    for (const name of names) {
      const writes = this.writes.filter((w) => w.deployment === name && w.result !== 'failed');
      const actual = await this.api
        .resource<Deployment>(deploymentsRef)
        .get(name, this.options.namespace)
        .then(
          (d) => ({
            exists: true,
            replicas: d.spec?.replicas ?? 1,
            rev: Number(d.spec?.template.metadata?.annotations?.[revAnnotation] ?? 0),
          }),
          (err: unknown) => {
            if (err instanceof StatusError && err.httpCode === 404)
              return { exists: false, replicas: 0, rev: 0 };
            throw err;
          },
        );
      const allowed = (sets: (w: Write) => number | boolean | undefined, initial?: number | boolean) => {
        const values = new Set<number | boolean>();
        const lastOk = [...writes].reverse().find((w) => w.result === 'ok' && sets(w) !== undefined);
        if (lastOk) values.add(sets(lastOk)!);
        else if (initial !== undefined) values.add(initial);
        for (const w of writes) if (w.result === 'unknown' && sets(w) !== undefined) values.add(sets(w)!);
        return values;
      };
      const exists = allowed(
        (w) => (w.kind === 'create' ? true : w.kind === 'delete' ? false : undefined),
        false,
      );
      const problems: string[] = [];
      if (!exists.has(actual.exists)) problems.push(`exists=${actual.exists}`);
      if (actual.exists) {
        const replicas = allowed((w) => w.replicas);
        const rev = allowed((w) => w.rev);
        if (replicas.size > 0 && !replicas.has(actual.replicas))
          problems.push(`replicas=${actual.replicas} (acknowledged or possible: ${[...replicas]})`);
        if (rev.size > 0 && !rev.has(actual.rev))
          problems.push(`template revision ${actual.rev} (acknowledged or possible: ${[...rev]})`);
      }
      if (problems.length > 0)
        out.push(`Deployment ${name} lost an acknowledged write: it has ${problems.join(', ')}`);
    }
    return out;
  }

  /** Each watch saw exactly the store's history of its objects, in order, up to where it got. */
  private async checkWatches(): Promise<string[]> {
    const out: string[] = [];
    const revision = await this.cluster.waitConverged(60_000);
    const client = await this.cluster.client({ timeoutMs: 30_000 });
    for (const { ref, prefix, watch } of this.watches) {
      const until = performance.now() + 20_000;
      const truthAll = await eventsUpTo(client, prefix, revision);
      const target = truthAll.at(-1)?.revision ?? 0;
      while (watch.lastRv < target && performance.now() < until) await delay(100);
      await watch.stop();
      const what = `watch of ${ref.resource}`;
      for (const p of watch.problems.slice(0, 3)) out.push(`${what}: ${p}`);
      const upTo = watch.lastRv;
      const truth = truthAll
        .filter((e) => e.revision > watch.fromRv && e.revision <= upTo)
        .map((e) => ({ name: e.key.slice(prefix.length), rv: e.revision, deleted: e.type === 'delete' }));
      const seen = watch.events.filter((e) => e.rv <= upTo);
      const n = Math.max(truth.length, seen.length);
      for (let i = 0, reported = 0; i < n && reported < 3; i++) {
        const a = seen[i];
        const b = truth[i];
        if (!a || !b || a.name !== b.name || a.rv !== b.rv || a.deleted !== b.deleted) {
          out.push(`${what}: event ${i} was ${JSON.stringify(a)}, the store has ${JSON.stringify(b)}`);
          reported += 1;
        }
      }
      if (upTo < target) out.push(`${what}: stopped at resourceVersion ${upTo} of ${target}`);
    }
    return out;
  }
}

function deploymentObject(name: string, namespace: string, replicas: number): Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { [revAnnotation]: '0' } },
        spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] },
      },
    },
  };
}

/** The API said no (it applied nothing): bad request, not found, conflict, invalid. */
function isRefusal(err: unknown): boolean {
  return err instanceof StatusError && err.httpCode >= 400 && err.httpCode < 500 && err.httpCode !== 429;
}
