import { setTimeout as delay } from 'node:timers/promises';
import { bytesToString, type StoreClient } from '@flotilla/store';
import type { ChaosCluster } from '../faults/chaos-cluster.ts';
import { check } from '../linearizability/check.ts';
import { History } from '../linearizability/history.ts';
import { type KvInput, type KvOutput, kvModel } from '../linearizability/kv-model.ts';
import { runKvWorkload } from '../workloads/kv-workload.ts';
import { type RecordedEvent, WatchRecorder } from '../workloads/watch-recorder.ts';
import type { ChaosWorkload, OperationOutcome, WorkloadCheck } from './workload.ts';

export type KvChaosWorkloadOptions = {
  /** Client connections (each its own NATS connection); workers share them round-robin. */
  readonly connections?: number;
  /** Concurrent client loops. */
  readonly workers?: number;
  /** Keys the workers share (few keys: contention; many: cheaper checking). */
  readonly keys?: number;
  /** Every key (and every watch) lives under this prefix. */
  readonly prefix?: string;
  /** Watches from revision 1 that must see every event, in order, through the faults. */
  readonly watchers?: number;
  /** A client call's total deadline across retries. */
  readonly clientTimeoutMs?: number;
  /** The linearizability checker's budget. */
  readonly checkTimeoutMs?: number;
  /** Operations per second across every worker (default: as fast as they go). */
  readonly rate?: number;
};

/** Violation text longer than this is cut (a checker explanation can run to pages). */
const maxViolationChars = 4_000;
/** How long a watch gets, once the load stopped, to reach the final revision. */
const watchCatchUpMs = 30_000;

/**
 * The store's chaos workload: the register/CAS load (`runKvWorkload`) recorded for the
 * linearizability checker, watches that must stay gap-free and ordered, and at the end:
 * equal hashes on every member, every acknowledged write present in the store's history
 * and nothing there that was reported as refused.
 */
export class KvChaosWorkload implements ChaosWorkload {
  readonly name = 'kv';
  readonly history = new History<KvInput, KvOutput>();
  readonly prefix: string;
  readonly keys: readonly string[];
  private readonly cluster: ChaosCluster;
  private readonly options: Required<Omit<KvChaosWorkloadOptions, 'rate'>> & { readonly rate?: number };
  private readonly ended: OperationOutcome[] = [];
  private clients: StoreClient[] = [];
  private watchers: WatchRecorder[] = [];
  private load: { stop(): Promise<void> } | undefined;
  private held: Promise<void> = Promise.resolve();
  private releaseHold: (() => void) | undefined;

  constructor(cluster: ChaosCluster, options: KvChaosWorkloadOptions = {}) {
    this.cluster = cluster;
    this.options = {
      connections: options.connections ?? 4,
      workers: options.workers ?? 16,
      keys: options.keys ?? 8,
      prefix: options.prefix ?? '/chaos/',
      watchers: options.watchers ?? 3,
      clientTimeoutMs: options.clientTimeoutMs ?? 8_000,
      checkTimeoutMs: options.checkTimeoutMs ?? 120_000,
      ...(options.rate !== undefined && { rate: options.rate }),
    };
    this.prefix = this.options.prefix;
    this.keys = Array.from({ length: this.options.keys }, (_, i) => `${this.prefix}k${i}`);
  }

  /** Note an operation that something else (a probe) recorded in `history`. */
  record(outcome: OperationOutcome): void {
    this.ended.push(outcome);
  }

  outcomes(): readonly OperationOutcome[] {
    return this.ended;
  }

  async start(): Promise<void> {
    const { connections, workers, watchers, clientTimeoutMs } = this.options;
    // One connection per member's server in turn, so that every run spreads its clients
    // the same way (those on a cut-off member's server are cut off with it).
    const members = this.cluster.members;
    this.clients = await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        this.cluster.client({ timeoutMs: clientTimeoutMs }, [members[i % members.length]!]),
      ),
    );
    this.watchers = Array.from(
      { length: watchers },
      (_, i) => new WatchRecorder(this.clients[i % this.clients.length]!, this.prefix),
    );
    const loops = Array.from({ length: workers }, (_, i) => this.clients[i % this.clients.length]!);
    this.load = runKvWorkload(loops, this.history, {
      keys: this.options.keys,
      keyPrefix: `${this.prefix}k`,
      clientPrefix: 'w',
      observe: (o) => this.ended.push(o),
      gate: () => this.held,
      ...(this.options.rate !== undefined && { rate: this.options.rate }),
    });
  }

  /**
   * Hold the load: workers start no new operation until `release` (those in flight end).
   * For a step that the load itself would starve; the report shows it as a quiet stretch.
   */
  hold(): void {
    if (this.releaseHold) return;
    this.held = new Promise((resolve) => {
      this.releaseHold = resolve;
    });
  }

  release(): void {
    this.releaseHold?.();
    this.releaseHold = undefined;
    this.held = Promise.resolve();
  }

  async stop(): Promise<void> {
    this.release();
    await this.load?.stop();
    this.load = undefined;
  }

  async check(): Promise<WorkloadCheck> {
    const violations: string[] = [];
    const revision = await this.cluster.waitConverged(60_000);

    const hashes = await this.cluster.hashes(revision);
    if (new Set(hashes.values()).size !== 1)
      violations.push(`members' hashes differ at revision ${revision}: ${JSON.stringify([...hashes])}`);

    const t0 = performance.now();
    const verdict = check(kvModel, this.history, { timeoutMs: this.options.checkTimeoutMs });
    const checkMs = Math.round(performance.now() - t0);
    if (verdict.result === 'illegal')
      violations.push(`not linearizable: ${(verdict.explanation ?? '').slice(0, maxViolationChars)}`);
    else if (verdict.result === 'unknown')
      violations.push(`linearizability undecided within the checker's budget: ${verdict.explanation ?? ''}`);

    const client = await this.cluster.client({ timeoutMs: 30_000 });
    const truth = await eventsUpTo(client, this.prefix, revision);
    // The last revision that touched the prefix: watches on it see nothing later.
    const target = truth.at(-1)?.revision ?? 0;
    let resumes = 0;
    for (const [i, w] of this.watchers.entries()) {
      const until = performance.now() + watchCatchUpMs;
      while (w.lastRevision < target && performance.now() < until) await delay(100);
      await w.stop();
      resumes += w.resumes;
      const problems = w.check(truth);
      if (w.lastRevision < target) problems.push(`stopped at revision ${w.lastRevision} of ${target}`);
      for (const p of problems.slice(0, 5)) violations.push(`watch ${i}: ${p}`);
    }
    violations.push(...this.durability(truth));

    const counts = this.history.counts();
    return {
      violations,
      details: {
        revision,
        operationsOk: counts.ok,
        operationsFailed: counts.failed,
        operationsUnknown: counts.unknown + counts.pending,
        linearizability: verdict.result,
        checkMs,
        events: truth.length,
        watchResumes: resumes,
      },
    };
  }

  /**
   * Every acknowledged write is in the store's history, and every write there was either
   * acknowledged or of unknown outcome (never one the store said it refused). Values are
   * unique per write, so this needs no search.
   */
  private durability(truth: readonly RecordedEvent[]): string[] {
    const present = new Set(truth.filter((e) => e.type === 'put').map((e) => e.value));
    const acknowledged = new Set<string>();
    const refused = new Set<string>();
    for (const op of this.history.operations()) {
      const value = op.input.kind === 'put' || op.input.kind === 'cas' ? op.input.value : undefined;
      if (value === undefined) continue;
      if (op.kind === 'ok' && (op.output.kind !== 'cas' || op.output.succeeded)) acknowledged.add(value);
      if (op.kind === 'failed') refused.add(value);
    }
    const out: string[] = [];
    const lost = [...acknowledged].filter((v) => !present.has(v));
    if (lost.length > 0)
      out.push(
        `${lost.length} acknowledged write(s) missing from the store's history, e.g. ${lost.slice(0, 5)}`,
      );
    const phantom = [...refused].filter((v) => present.has(v));
    if (phantom.length > 0)
      out.push(`${phantom.length} write(s) reported as refused were applied, e.g. ${phantom.slice(0, 5)}`);
    return out;
  }
}

/** The authoritative event sequence under `prefix` up to `revision`, from a fresh watch. */
export async function eventsUpTo(
  client: StoreClient,
  prefix: string,
  revision: number,
): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  if (revision <= 1) return out;
  const w = client.watchPrefix(prefix, { startRevision: 1, progressNotify: true });
  try {
    for await (const r of w) {
      if (r.kind === 'events') {
        for (const e of r.events) {
          out.push({
            revision: r.revision,
            type: e.type,
            key: bytesToString(e.kv.key),
            value: bytesToString(e.kv.value),
          });
        }
      }
      if (r.revision >= revision) break;
    }
  } finally {
    w.cancel();
  }
  return out;
}
