import { setTimeout as delay } from 'node:timers/promises';
import { type ActorSystem, FlotillaError, silentLogger } from '@flotilla/actor';
import type { NodeId } from '@flotilla/raft';
import { bytesToString, StoreError, type StoreProtocol, storeActorName, toBytes } from '@flotilla/store';
import type { ChaosCluster } from '../faults/chaos-cluster.ts';
import type { KvChaosWorkload } from './kv-chaos-workload.ts';

/** One probe operation's answer (or not), with the term the member answered at. */
export type ProbeResult = {
  readonly op: 'get' | 'put';
  readonly callMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  /** The answering member's Raft term, from the response header. */
  readonly term?: number;
};

export type ProbeOptions = {
  /** A new operation this often (not waiting for the previous one). */
  readonly intervalMs?: number;
  /** How long one operation waits for its answer: longer than a pause, so a frozen member's answer still counts. */
  readonly attemptTimeoutMs?: number;
  /** Operations in flight at most; beyond it the probe skips a beat. */
  readonly maxInFlight?: number;
};

/**
 * Linearizable reads and puts sent to one member directly (its own actor name, no client
 * retries, no redirection), recorded in the workload's history like any client's. Aimed
 * at a member a fault cut off or froze: whatever it answers must still be linearizable,
 * and `results` keep the term it answered at.
 */
export class MemberProbe {
  readonly member: NodeId;
  readonly results: ProbeResult[] = [];
  private readonly workload: KvChaosWorkload;
  private readonly system: ActorSystem;
  private readonly clusterId: string;
  private readonly options: Required<ProbeOptions>;
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private loop: Promise<void> = Promise.resolve();
  private seq = 0;
  private readonly clientId: string;

  private constructor(
    member: NodeId,
    workload: KvChaosWorkload,
    system: ActorSystem,
    clusterId: string,
    options: ProbeOptions,
  ) {
    this.member = member;
    this.workload = workload;
    this.system = system;
    this.clusterId = clusterId;
    this.options = {
      intervalMs: options.intervalMs ?? 50,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 10_000,
      maxInFlight: options.maxInFlight ?? 64,
    };
    this.clientId = `probe-${member}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  }

  /** A probe on its own connection to the member's NATS server. */
  static async start(
    cluster: ChaosCluster,
    member: NodeId,
    workload: KvChaosWorkload,
    options: ProbeOptions = {},
  ): Promise<MemberProbe> {
    const system = await cluster.connect([cluster.backend.natsUrl(member)], silentLogger());
    const probe = new MemberProbe(member, workload, system, cluster.clusterId, options);
    probe.running = true;
    probe.loop = probe.run();
    return probe;
  }

  /** Stop sending and wait for every operation in flight to end. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    for (let n = 0; this.running; n++) {
      if (this.inFlight.size < this.options.maxInFlight) {
        const p = this.once(n).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      await delay(this.options.intervalMs);
    }
  }

  private async once(n: number): Promise<void> {
    const ref = this.system.ref<StoreProtocol>(storeActorName(this.clusterId, this.member));
    const key = this.workload.keys[n % this.workload.keys.length]!;
    const history = this.workload.history;
    const timeoutMs = this.options.attemptTimeoutMs;
    const client = this.clientId;
    if (n % 2 === 0) {
      const call = history.invoke(client, { kind: 'get', key });
      const callMs = performance.now();
      try {
        const r = await ref.ask('range', { request: { key: toBytes(key) } }, { timeoutMs, retry: false });
        const kv = r.result.kvs[0];
        call.complete({ kind: 'get', value: kv ? bytesToString(kv.value) : null });
        this.end('get', callMs, true, r.header.raftTerm);
      } catch {
        call.fail();
        this.end('get', callMs, false);
      }
      return;
    }
    this.seq += 1;
    const value = `${client}-${this.seq}`;
    const call = history.invoke(client, { kind: 'put', key, value });
    const callMs = performance.now();
    try {
      const r = await ref.ask(
        'write',
        { command: { kind: 'put', key: toBytes(key), value: toBytes(value), requestId: value } },
        { timeoutMs, retry: false },
      );
      call.complete({ kind: 'put' });
      this.end('put', callMs, true, r.header.raftTerm);
    } catch (err) {
      // The store's own refusals applied nothing; anything else (a timeout) may still apply.
      if (err instanceof StoreError && err instanceof FlotillaError) call.fail();
      else call.unknown();
      this.end('put', callMs, false);
    }
  }

  private end(op: 'get' | 'put', callMs: number, ok: boolean, term?: number): void {
    const endMs = performance.now();
    this.results.push({ op, callMs, endMs, ok, term });
    this.workload.record({
      kind: `probe-${op}`,
      result: ok ? 'ok' : op === 'get' ? 'failed' : 'unknown',
      callMs,
      endMs,
    });
  }
}
