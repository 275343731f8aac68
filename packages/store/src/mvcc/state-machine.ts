import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assert, assertNever, type Logger, type Registry, silentLogger } from '@flotilla/actor';
import {
  leaseExists,
  leaseKeys,
  listLeases,
  readLease,
  removeLease,
  writeLease,
} from '../lease/lease-table.ts';
import { Backend } from './backend.ts';
import {
  commandDigest,
  decodeCommand,
  decodeResult,
  encodeResult,
  validateRangeRequest,
} from './commands.ts';
import { Compactor, compactionMetaKey, initialCompactionProgress, scheduleCompaction } from './compaction.ts';
import { evictRequests, lookupRequest, rememberRequest } from './dedup.ts';
import {
  CompactedError,
  errorResult,
  FutureRevisionError,
  InvalidRequestError,
  KeyNotFoundError,
  LeaseExistsError,
  LeaseNotFoundError,
  RequestIdReusedError,
  ResultNotKeptError,
  SnapshotInvalidError,
  StoreError,
  StoreUnavailableError,
} from './errors.ts';
import { keyRange } from './keys.ts';
import {
  currentKv,
  hashKeySpace,
  kvAt,
  liveKeysNow,
  readHistory,
  readKeyState,
  readRange,
} from './kv-read.ts';
import { RevisionWriter } from './kv-write.ts';
import { storeLimits } from './limits.ts';
import { releaseStoreMetrics, type StoreMetrics, storeMetrics } from './metrics.ts';
import {
  backendFormatVersion,
  decodeFormat,
  decodeMetaState,
  encodeCompactionProgress,
  encodeFormat,
  encodeMetaState,
  type MetaState,
} from './records.ts';
import { sealSnapshot, unsealSnapshot } from './snapshot-file.ts';
import { compareHolds, type TxnPath, txnPath } from './txn.ts';
import type {
  ApplyResult,
  Bytes,
  Command,
  CommitNotice,
  Compare,
  HashResult,
  KeyValue,
  LeaseChange,
  LeaseRecord,
  LogEntry,
  PutRequest,
  RangeRequest,
  RangeResult,
  ResponseOp,
  RevisionEvents,
  RevisionPointer,
  SnapshotInfo,
  StoreStatus,
} from './types.ts';

export type StateMachineOptions = {
  /** Directory of the backend file (`state.mdb`), created if missing. */
  readonly dir: string;
  readonly log?: Logger;
  /** prom-client registry for `flotilla_store_*` metrics (labelled with `member`). */
  readonly registry?: Registry;
  readonly member?: string;
  /**
   * Applied entries a request id is remembered for. Part of the replicated state: it is
   * fixed when the backend is created (an existing backend keeps its own, and snapshots
   * carry it), so every member of a cluster must be created with the same value.
   */
  readonly dedupWindowEntries?: number;
  /** History records one physical compaction transaction processes. */
  readonly compactionRecordsPerStep?: number;
};

/** About 20 s of retries at 5,000 writes/s; ~100 bytes each on disk. */
export const defaultDedupWindowEntries = 100_000;
export const defaultCompactionRecordsPerStep = 1000;

const backendFileName = 'state.mdb';
const stateMetaKey = 'state';
const formatMetaKey = 'format';
const initialState: MetaState = { appliedIndex: 0, revision: 1, compactedRevision: 0 };

/** What one batch changes, staged in memory until its transaction commits. */
type Batch = {
  appliedIndex: number;
  revision: number;
  compactedRevision: number;
  compacted: boolean;
  readonly revisions: RevisionEvents[];
  readonly leaseChanges: LeaseChange[];
};

/**
 * The store's replicated state machine: etcd's MVCC key space, leases and a dedup table
 * on LMDB. `apply` is deterministic (no clock, no randomness: the log decides everything)
 * and writes an entry's effects together with the applied index in one transaction, so a
 * crash loses whole entries or nothing and a restart resumes after the stored index.
 * Reads serve the applied state (serializable); linearizability is the server's business
 * (ReadIndex, then read here).
 */
export class StateMachine {
  readonly dir: string;
  private backend: Backend;
  private state: MetaState;
  private dedupWindowEntries: number;
  private readonly listeners = new Set<(notice: CommitNotice) => void>();
  private readonly compactor: Compactor;
  private readonly metrics: StoreMetrics | undefined;
  private readonly registry: Registry | undefined;
  private readonly member: string;
  private readonly log: Logger;
  private closed = false;
  private busy: 'applying' | 'restoring' | undefined;
  private restoring: Promise<void> | undefined;
  /** Backend copies in progress (LMDB copies in a thread): closing the backend waits for them. */
  private readonly copies = new Set<Promise<void>>();

  private constructor(options: StateMachineOptions, backend: Backend) {
    this.dir = options.dir;
    this.backend = backend;
    this.member = options.member ?? '';
    this.log = (options.log ?? silentLogger()).child({ component: 'store-state-machine' });
    const init = StateMachine.initialize(backend, options.dedupWindowEntries ?? defaultDedupWindowEntries);
    this.state = init.state;
    this.dedupWindowEntries = init.dedupWindowEntries;
    this.compactor = new Compactor(
      () => this.backend,
      options.compactionRecordsPerStep ?? defaultCompactionRecordsPerStep,
      this.log,
    );
    this.registry = options.registry;
    this.metrics = options.registry
      ? storeMetrics(options.registry, this.member, () =>
          this.available
            ? { fileBytes: this.backend.fileBytes(), inUseBytes: this.backend.inUseBytes() }
            : { fileBytes: 0, inUseBytes: 0 },
        )
      : undefined;
    this.updateGauges();
    this.log.info(
      { appliedIndex: this.state.appliedIndex, revision: this.state.revision, path: backend.path },
      'store opened',
    );
    this.compactor.kick();
  }

  /** Open the state machine in `options.dir`, creating an empty one if none is there. */
  static open(options: StateMachineOptions): StateMachine {
    assert(
      options.dedupWindowEntries === undefined ||
        (Number.isSafeInteger(options.dedupWindowEntries) && options.dedupWindowEntries >= 1),
      'dedupWindowEntries is a positive integer',
    );
    mkdirSync(options.dir, { recursive: true });
    return new StateMachine(options, Backend.open(join(options.dir, backendFileName)));
  }

  /** Write the initial records into a new backend; read and check an existing one's. */
  private static initialize(
    b: Backend,
    dedupWindowEntries: number,
  ): { state: MetaState; dedupWindowEntries: number } {
    if (b.meta.getBinary(formatMetaKey) === undefined) {
      b.transact(() => {
        b.meta.putSync(formatMetaKey, encodeFormat({ version: backendFormatVersion, dedupWindowEntries }));
        b.meta.putSync(stateMetaKey, encodeMetaState(initialState));
        b.meta.putSync(compactionMetaKey, encodeCompactionProgress(initialCompactionProgress()));
      });
    }
    return StateMachine.readHeader(b);
  }

  private static readHeader(b: Backend): { state: MetaState; dedupWindowEntries: number } {
    const format = b.meta.getBinary(formatMetaKey);
    const state = b.meta.getBinary(stateMetaKey);
    assert(format !== undefined && state !== undefined, 'the backend holds its format and state records');
    const f = decodeFormat(format);
    assert(f.version === backendFormatVersion, `backend format ${f.version} is ${backendFormatVersion}`);
    return { state: decodeMetaState(state), dedupWindowEntries: f.dedupWindowEntries };
  }

  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  get revision(): number {
    return this.state.revision;
  }

  get compactedRevision(): number {
    return this.state.compactedRevision;
  }

  /** Listen to every commit (applied batches, restores). Returns the unsubscribe function. */
  onCommit(listener: (notice: CommitNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether reads can be served now (not closed, not in the middle of a restore). */
  get available(): boolean {
    return !this.closed && this.busy !== 'restoring';
  }

  private checkOpen(): void {
    if (this.closed) throw StoreUnavailableError.of('closed');
    if (this.busy === 'restoring') throw StoreUnavailableError.of('restoring');
  }

  apply(index: number, data: Bytes): ApplyResult {
    return this.applyBatch([{ index, data }])[0]!;
  }

  /**
   * Apply committed entries in log order, all in one LMDB transaction: after a crash either
   * the whole batch is applied or none of it. Indexes must increase; a gap stands for
   * entries with nothing to apply (Raft no-ops, configuration changes), and `throughIndex`
   * (default: the last entry's) is recorded as applied, so a batch of only such entries is
   * `applyBatch([], n)`. Entries at or below the applied index are skipped (replay after a
   * restart).
   */
  applyBatch(entries: readonly LogEntry[], throughIndex?: number): ApplyResult[] {
    this.checkOpen();
    assert(this.busy === undefined, `apply while ${this.busy}`);
    for (let i = 1; i < entries.length; i++) {
      assert(
        entries[i]!.index > entries[i - 1]!.index,
        `entry indexes increase (${entries[i]!.index} at ${i})`,
      );
    }
    const last = entries[entries.length - 1]?.index ?? 0;
    const through = throughIndex ?? last;
    assert(Number.isSafeInteger(through) && through >= last, `applied through ${through}, past every entry`);
    if (through <= this.state.appliedIndex) return entries.map(() => ({ kind: 'alreadyApplied' }));
    const started = performance.now();
    const batch: Batch = {
      ...this.state,
      compacted: false,
      revisions: [],
      leaseChanges: [],
    };
    const results: ApplyResult[] = [];
    let fresh = 0;
    this.busy = 'applying';
    try {
      this.backend.transact(() => {
        for (const entry of entries) {
          if (entry.index <= batch.appliedIndex) {
            results.push({ kind: 'alreadyApplied' });
            continue;
          }
          evictRequests(this.backend, batch.appliedIndex, entry.index, this.dedupWindowEntries);
          results.push(this.applyEntry(entry, batch));
          batch.appliedIndex = entry.index;
          fresh++;
        }
        if (through > batch.appliedIndex) {
          evictRequests(this.backend, batch.appliedIndex, through, this.dedupWindowEntries);
          batch.appliedIndex = through;
        }
        this.backend.meta.putSync(stateMetaKey, encodeMetaState(batch));
      });
    } finally {
      this.busy = undefined;
    }
    assert(batch.revision >= this.state.revision, 'the revision never goes back');
    this.state = {
      appliedIndex: batch.appliedIndex,
      revision: batch.revision,
      compactedRevision: batch.compactedRevision,
    };
    if (this.metrics) {
      this.metrics.appliedEntries.inc({ member: this.member }, fresh);
      this.metrics.applyBatchSeconds.observe({ member: this.member }, (performance.now() - started) / 1000);
      this.updateGauges();
    }
    if (batch.compacted) this.compactor.kick();
    this.notify({
      kind: 'applied',
      appliedIndex: batch.appliedIndex,
      revision: batch.revision,
      compactedRevision: batch.compactedRevision,
      revisions: batch.revisions,
      leaseChanges: batch.leaseChanges,
    });
    return results;
  }

  private notify(notice: CommitNotice): void {
    for (const listener of this.listeners) listener(notice);
  }

  private updateGauges(): void {
    if (!this.metrics) return;
    const member = { member: this.member };
    this.metrics.appliedIndex.set(member, this.state.appliedIndex);
    this.metrics.revision.set(member, this.state.revision);
    this.metrics.compactedRevision.set(member, this.state.compactedRevision);
  }

  private applyEntry(entry: LogEntry, batch: Batch): ApplyResult {
    const b = this.backend;
    if (entry.data.length === 0) return { kind: 'noop', revision: batch.revision };
    let command: Command;
    try {
      command = decodeCommand(entry.data);
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      this.log.debug({ index: entry.index, code: err.code, err: err.message }, 'invalid command');
      return errorResult(err);
    }
    const requestId = command.requestId;
    if (requestId === undefined) return this.execute(command, batch);
    const digest = commandDigest(command);
    const seen = lookupRequest(b, requestId);
    if (seen !== undefined) {
      this.metrics?.dedupHits.inc({ member: this.member });
      if (seen.digest !== digest) return errorResult(RequestIdReusedError.of(requestId));
      if (seen.result === undefined) {
        return errorResult(ResultNotKeptError.of(requestId, seen.appliedIndex, seen.revision));
      }
      return decodeResult(seen.result);
    }
    const result = this.execute(command, batch);
    if (result.kind !== 'error') {
      const encoded = encodeResult(result);
      rememberRequest(b, requestId, {
        appliedIndex: entry.index,
        digest,
        revision: batch.revision,
        result: encoded.length <= storeLimits.maxDedupResultBytes ? encoded : undefined,
      });
    }
    return result;
  }

  /**
   * Run one validated command. Every check that can refuse it runs before its first write,
   * so a refused command changes nothing; a StoreError after a write would be a bug.
   */
  private execute(command: Command, batch: Batch): ApplyResult {
    const writer = new RevisionWriter(this.backend, batch.revision + 1);
    try {
      const result = this.run(command, writer, batch);
      if (writer.wrote) {
        batch.revision = writer.revision;
        batch.revisions.push({ revision: writer.revision, events: writer.events });
      }
      return result;
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      assert(!writer.wrote, `${command.kind} refused after writing: ${err.message}`);
      return errorResult(err);
    }
  }

  private run(command: Command, writer: RevisionWriter, batch: Batch): ApplyResult {
    const b = this.backend;
    const revisionAfter = () => (writer.wrote ? writer.revision : batch.revision);
    switch (command.kind) {
      case 'put': {
        this.checkPut(command);
        const { prevKv } = writer.put(command);
        return { kind: 'put', revision: revisionAfter(), ...(prevKv && { prevKv }) };
      }
      case 'deleteRange': {
        const wantPrev = command.prevKv === true;
        const { deleted, prevKvs } = writer.deleteRange(keyRange(command.key, command.rangeEnd), wantPrev);
        return { kind: 'deleteRange', revision: revisionAfter(), deleted, ...(wantPrev && { prevKvs }) };
      }
      case 'txn': {
        const path = txnPath(command, (c) => compareHolds(c, this.compareKvs(c)));
        this.checkPath(path, batch);
        const responses = this.runPath(path, writer, batch);
        return { kind: 'txn', revision: revisionAfter(), succeeded: path.succeeded, responses };
      }
      case 'compact': {
        // etcd: compacting at or below the compacted revision is ErrCompacted.
        if (command.revision <= batch.compactedRevision) {
          throw CompactedError.of(command.revision, batch.compactedRevision);
        }
        if (command.revision > batch.revision) throw FutureRevisionError.of(command.revision, batch.revision);
        scheduleCompaction(b, command.revision);
        batch.compactedRevision = command.revision;
        batch.compacted = true;
        return { kind: 'compact', revision: batch.revision, compactedRevision: command.revision };
      }
      case 'leaseGrant': {
        if (leaseExists(b, command.id)) throw LeaseExistsError.of(command.id);
        writeLease(b, { id: command.id, ttlSeconds: command.ttlSeconds, remainingTtlSeconds: 0 });
        batch.leaseChanges.push({ kind: 'granted', id: command.id, ttlSeconds: command.ttlSeconds });
        return {
          kind: 'leaseGrant',
          revision: batch.revision,
          id: command.id,
          ttlSeconds: command.ttlSeconds,
        };
      }
      case 'leaseRevoke': {
        if (!leaseExists(b, command.id)) throw LeaseNotFoundError.of(command.id);
        const deletedKeys = this.revokeLease(command.id, writer, batch);
        return { kind: 'leaseRevoke', revision: revisionAfter(), deletedKeys };
      }
      case 'leaseCheckpoint': {
        for (const cp of command.checkpoints) {
          const lease = readLease(b, cp.id);
          if (lease === undefined) continue; // revoked meanwhile: nothing to remember
          writeLease(b, { ...lease, remainingTtlSeconds: cp.remainingTtlSeconds });
          batch.leaseChanges.push({
            kind: 'checkpointed',
            id: cp.id,
            remainingTtlSeconds: cp.remainingTtlSeconds,
          });
        }
        return { kind: 'leaseCheckpoint', revision: batch.revision };
      }
      case 'leaseExpire': {
        const expired: number[] = [];
        for (const id of new Set(command.ids)) {
          if (!leaseExists(b, id)) continue; // revoked meanwhile
          this.revokeLease(id, writer, batch);
          expired.push(id);
        }
        return { kind: 'leaseExpire', revision: revisionAfter(), expired };
      }
      default:
        return assertNever(command, 'command');
    }
  }

  private checkPut(req: PutRequest): void {
    if ((req.ignoreValue || req.ignoreLease) && !this.backend.keys.doesExist(req.key)) {
      throw KeyNotFoundError.of(req.key);
    }
    if (req.lease !== undefined && req.lease !== 0 && !leaseExists(this.backend, req.lease)) {
      throw LeaseNotFoundError.of(req.lease);
    }
  }

  private compareKvs(c: Compare): KeyValue[] {
    const out: KeyValue[] = [];
    for (const { key, state } of liveKeysNow(this.backend, keyRange(c.key, c.rangeEnd))) {
      out.push(currentKv(this.backend, key, state, c.target === 'value'));
    }
    return out;
  }

  /** Everything on the txn's path that could refuse it, checked before the first write. */
  private checkPath(path: TxnPath, batch: Batch): void {
    let nested = 0;
    for (const op of path.ops) {
      switch (op.op) {
        case 'put':
          this.checkPut(op);
          break;
        case 'range': {
          const revision = op.revision ?? 0;
          if (revision > batch.revision) throw FutureRevisionError.of(revision, batch.revision);
          if (revision > 0 && revision < batch.compactedRevision) {
            throw CompactedError.of(revision, batch.compactedRevision);
          }
          break;
        }
        case 'deleteRange':
          break;
        case 'txn':
          this.checkPath(path.nested[nested++]!, batch);
          break;
        default:
          assertNever(op, 'request op');
      }
    }
  }

  private runPath(path: TxnPath, writer: RevisionWriter, batch: Batch): ResponseOp[] {
    const responses: ResponseOp[] = [];
    let nested = 0;
    for (const op of path.ops) {
      switch (op.op) {
        case 'range': {
          // A range after the txn's own writes sees them (etcd reads at the txn's revision).
          const view = {
            revision: writer.wrote ? writer.revision : batch.revision,
            compactedRevision: batch.compactedRevision,
          };
          const { kvs, more, count } = readRange(this.backend, op, view);
          responses.push({ op: 'range', kvs, more, count });
          break;
        }
        case 'put': {
          const { prevKv } = writer.put(op);
          responses.push({ op: 'put', ...(prevKv && { prevKv }) });
          break;
        }
        case 'deleteRange': {
          const wantPrev = op.prevKv === true;
          const { deleted, prevKvs } = writer.deleteRange(keyRange(op.key, op.rangeEnd), wantPrev);
          responses.push({ op: 'deleteRange', deleted, ...(wantPrev && { prevKvs }) });
          break;
        }
        case 'txn': {
          const sub = path.nested[nested++]!;
          responses.push({
            op: 'txn',
            succeeded: sub.succeeded,
            responses: this.runPath(sub, writer, batch),
          });
          break;
        }
        default:
          assertNever(op, 'request op');
      }
    }
    return responses;
  }

  /** Delete a lease's keys (in the writer's one revision) and the lease. */
  private revokeLease(id: number, writer: RevisionWriter, batch: Batch): number {
    const b = this.backend;
    const keys = leaseKeys(b, id);
    for (const key of keys) {
      const state = readKeyState(b, key);
      assert(state !== undefined && state.lease === id, `key attached to lease ${id} is live on it`);
      writer.deleteKey(key, state);
    }
    removeLease(b, id);
    batch.leaseChanges.push({ kind: 'revoked', id });
    return keys.length;
  }

  /**
   * etcd's Range on the applied state. Throws a typed error for a malformed request, a
   * compacted revision or a future one.
   */
  range(request: RangeRequest): RangeResult {
    this.checkOpen();
    const req = validateRangeRequest(request);
    const { kvs, more, count } = readRange(this.backend, req, this.state);
    return { revision: this.state.revision, kvs, more, count };
  }

  /** A hash of the key space at `revision` (default: the current one), to compare members. */
  hash(revision = 0): HashResult {
    this.checkOpen();
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw InvalidRequestError.of('revision', 'must be a non-negative integer');
    }
    const { revision: current, compactedRevision } = this.state;
    const at = revision === 0 ? current : revision;
    if (at > current) throw FutureRevisionError.of(at, current);
    if (at < compactedRevision) throw CompactedError.of(at, compactedRevision);
    const { hash, keys } = hashKeySpace(this.backend, at, at < current);
    return { revision: at, compactedRevision, hash, keys };
  }

  status(): StoreStatus {
    this.checkOpen();
    return {
      ...this.state,
      dbSizeBytes: this.backend.fileBytes(),
      dbSizeInUseBytes: this.backend.inUseBytes(),
      compactionPending: this.compactor.pending,
    };
  }

  /** A lease and the keys attached to it, or undefined if there is no such lease. */
  lease(id: number): (LeaseRecord & { readonly keys: readonly Bytes[] }) | undefined {
    this.checkOpen();
    const lease = readLease(this.backend, id);
    return lease && { ...lease, keys: leaseKeys(this.backend, id) };
  }

  leases(): LeaseRecord[] {
    this.checkOpen();
    return listLeases(this.backend);
  }

  /** Events from `fromRevision` on, whole revisions, about `maxRecords` (for watchers). */
  readHistory(fromRevision: number, maxRecords: number): RevisionEvents[] {
    this.checkOpen();
    assert(fromRevision >= this.state.compactedRevision, 'history is read from the compacted revision on');
    return readHistory(this.backend, fromRevision, maxRecords);
  }

  /** The version a prevKv pointer names. */
  kvAt(at: RevisionPointer): KeyValue {
    this.checkOpen();
    return kvAt(this.backend, at);
  }

  /** Resolves once physical compaction has caught up with the compacted revision. */
  compactionIdle(): Promise<void> {
    return this.compactor.idle();
  }

  /**
   * Write a consistent copy of the whole backend (key space, history, leases, dedup table,
   * applied index) to `toPath`, with a checksum trailer. Applies may continue meanwhile;
   * the info says which applied index the copy holds.
   */
  async snapshot(toPath: string): Promise<SnapshotInfo> {
    this.checkOpen();
    mkdirSync(dirname(toPath), { recursive: true });
    const tmp = `${toPath}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    const copying = this.backend.copyTo(tmp);
    const settled = copying.catch(() => undefined);
    this.copies.add(settled);
    try {
      await copying;
      this.copies.delete(settled);
      const header = await StateMachine.checkCopy(tmp, toPath);
      const { bytes, sha256 } = await sealSnapshot(tmp);
      renameSync(tmp, toPath);
      await syncDir(dirname(toPath));
      this.log.info({ path: toPath, appliedIndex: header.state.appliedIndex, bytes }, 'snapshot written');
      return {
        path: toPath,
        appliedIndex: header.state.appliedIndex,
        revision: header.state.revision,
        bytes,
        sha256,
      };
    } finally {
      this.copies.delete(settled);
      rmSync(tmp, { force: true });
      rmSync(`${tmp}-lock`, { force: true });
    }
  }

  /**
   * Replace the whole state with a snapshot file (how a Raft snapshot is installed, or a
   * backup restored). A file that is not an intact snapshot is refused with
   * SnapshotInvalidError and the current state is kept.
   */
  async restore(fromPath: string): Promise<void> {
    this.checkOpen();
    assert(this.busy === undefined, `restore while ${this.busy}`);
    this.busy = 'restoring';
    const done = this.replaceState(fromPath);
    this.restoring = done.catch(() => undefined);
    try {
      await done;
    } finally {
      this.restoring = undefined;
      // Also after a refused file: reads were unavailable meanwhile, listeners resume.
      this.notify({ kind: 'restored', ...this.state });
    }
  }

  private async replaceState(fromPath: string): Promise<void> {
    const livePath = join(this.dir, backendFileName);
    const staged = `${livePath}.restore`;
    try {
      try {
        await unsealSnapshot(fromPath, staged);
        const header = await StateMachine.checkCopy(staged, fromPath);
        this.log.info({ from: fromPath, appliedIndex: header.state.appliedIndex }, 'restoring snapshot');
      } catch (err) {
        rmSync(staged, { force: true });
        throw err;
      }
      this.compactor.stop();
      await Promise.all(this.copies);
      await this.backend.close();
      try {
        renameSync(staged, livePath);
        await syncDir(this.dir);
      } finally {
        // Whatever happened, reopen what is now in place: the old state or the new one.
        this.backend = Backend.open(livePath);
        rmSync(staged, { force: true });
      }
      const header = StateMachine.readHeader(this.backend);
      this.state = header.state;
      this.dedupWindowEntries = header.dedupWindowEntries;
      this.updateGauges();
    } finally {
      this.busy = undefined;
      this.compactor.resume();
    }
  }

  /** Open an LMDB copy read-only, check it holds a store of this format, read its header. */
  private static async checkCopy(
    path: string,
    shownPath: string,
  ): Promise<{ state: MetaState; dedupWindowEntries: number }> {
    const copy = Backend.open(path, { readOnly: true });
    try {
      const format = copy.meta.getBinary(formatMetaKey);
      if (format === undefined) throw SnapshotInvalidError.of(shownPath, 'holds no store');
      if (decodeFormat(format).version !== backendFormatVersion) {
        throw SnapshotInvalidError.of(shownPath, `has backend format ${decodeFormat(format).version}`);
      }
      return StateMachine.readHeader(copy);
    } finally {
      await copy.close();
      rmSync(`${path}-lock`, { force: true });
    }
  }

  /** Close the backend (after a restore in progress, if any, has finished). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.restoring;
    if (this.closed) return;
    this.closed = true;
    this.compactor.stop();
    if (this.registry) releaseStoreMetrics(this.registry, this.member);
    await Promise.all(this.copies);
    await this.backend.close();
    this.notify({ kind: 'closed' });
    this.listeners.clear();
    this.log.info({ appliedIndex: this.state.appliedIndex }, 'store closed');
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await openFile(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
