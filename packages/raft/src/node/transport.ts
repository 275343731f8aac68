import {
  type ActorHost,
  type ActorSystem,
  type Ask,
  ask,
  failpoint,
  failpointsArmed,
  type Logger,
  type Tell,
  tell,
} from '@flotilla/actor';
import type { NodeId, SnapshotMeta } from '../core/types.ts';

/** The minimum the transport needs to know of a core message. */
export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** Reading a stored snapshot by chunks, for sending. */
export interface SnapshotReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Receiving a snapshot by chunks: only the next expected offset is accepted. */
export interface SnapshotReceiver {
  readonly meta: SnapshotMeta;
  readonly expectedOffset: number;
  /** False once finished, aborted or failed. */
  readonly isOpen: boolean;
  write(offset: number, chunk: Uint8Array): Promise<void>;
  /** Verify and install; resolves once the snapshot is durable and can be restored. */
  finish(): Promise<void>;
  abort(): Promise<void>;
}

export interface SnapshotFiles {
  openReader(meta: SnapshotMeta): Promise<SnapshotReader>;
  beginReceive(meta: SnapshotMeta, totalBytes: number): Promise<SnapshotReceiver>;
}

type Chunk<M> = {
  readonly from: NodeId;
  /** The core's snapshot message, stepped into the receiver once all bytes are on disk. */
  readonly message: M;
  readonly meta: SnapshotMeta;
  readonly total: number;
  readonly offset: number;
  readonly data: Uint8Array;
};
type ChunkAck = { readonly next: number; readonly done: boolean };

export type RaftPeerProtocol<M> = {
  batch: Tell<{ readonly from: NodeId; readonly messages: readonly M[] }>;
  snapshotChunk: Ask<Chunk<M>, ChunkAck>;
};

export interface TransportOptions<M extends Envelope> {
  readonly system: ActorSystem;
  readonly clusterId: string;
  readonly self: NodeId;
  readonly log: Logger;
  readonly snapshots: SnapshotFiles;
  /** Messages from peers, in arrival order per peer. */
  readonly deliver: (messages: readonly M[]) => void;
  /** A snapshot arrived whole and is installed on disk: step `message` into the core. */
  readonly deliverSnapshot: (message: M) => void;
  /** Bytes per snapshot chunk; NATS' default payload limit is 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Time one chunk may take (with retries) before the transfer counts as failed. */
  readonly snapshotChunkTimeoutMs?: number;
  /**
   * An upper bound of a message's encoded size. With it, a destination's batch is split
   * into publishes that each fit NATS' payload limit; without it, one publish per batch.
   */
  readonly messageBytes?: (message: M) => number;
}

/**
 * The share of the server's payload limit one batch may fill: the estimate is an upper
 * bound of the payload, and the frame around it needs room too.
 */
const batchShareOfPayload = 0.5;

export const raftActorName = (clusterId: string, member: NodeId) => `raft.${clusterId}.${member}`;

/**
 * Raft messages over NATS: one actor per member (`raft.<cluster>.<member>`), one
 * publish per destination per Ready (a batch), and snapshots streamed in chunks with
 * acknowledgements, one transfer per peer at a time, resumable after a lost chunk.
 * Core NATS may drop a batch; Raft tolerates lost messages by design (retries by
 * heartbeat and probe), so batches are sent fire-and-forget.
 */
export class Transport<M extends Envelope> {
  private readonly options: TransportOptions<M>;
  private readonly chunkBytes: number;
  private readonly chunkTimeoutMs: number;
  private readonly lastHeardAt = new Map<NodeId, number>();
  private readonly sending = new Map<NodeId, Promise<boolean>>();
  private receiving: { key: string; receiver: SnapshotReceiver } | undefined;
  /** The last transfer completed here, so that a retried final chunk is acknowledged again. */
  private lastReceivedKey: string | undefined;
  /** Chunks are handled one at a time: a retried chunk must not race the original. */
  private chunkChain: Promise<unknown> = Promise.resolve();
  private host: ActorHost<RaftPeerProtocol<M>> | undefined;

  constructor(options: TransportOptions<M>) {
    this.options = options;
    this.chunkBytes = options.snapshotChunkBytes ?? 256 * 1024;
    this.chunkTimeoutMs = options.snapshotChunkTimeoutMs ?? 10_000;
  }

  async start(): Promise<void> {
    const { system, clusterId, self } = this.options;
    this.host = system.spawn<RaftPeerProtocol<M>>({
      name: raftActorName(clusterId, self),
      logBindings: { component: 'raft-transport', member: self },
      handlers: {
        batch: tell((msg: { from: NodeId; messages: readonly M[] }) => {
          this.lastHeardAt.set(msg.from, performance.now());
          this.options.deliver(msg.messages);
        }),
        snapshotChunk: ask((chunk: Chunk<M>) => {
          const next = this.chunkChain.then(() => this.onChunk(chunk));
          this.chunkChain = next.catch(() => undefined);
          return next;
        }),
      },
    });
    await this.host.ready;
  }

  async stop(): Promise<void> {
    await this.host?.stop(1_000);
    if (this.receiving) await this.receiving.receiver.abort().catch(() => undefined);
    this.receiving = undefined;
  }

  /** Milliseconds since anything arrived from `peer` (Infinity if never). */
  silenceMs(peer: NodeId): number {
    const at = this.lastHeardAt.get(peer);
    return at === undefined ? Number.POSITIVE_INFINITY : performance.now() - at;
  }

  /** Send each destination its messages in one publish, in order. */
  send(messages: readonly M[]): void {
    if (messages.length === 0) return;
    const byPeer = new Map<NodeId, M[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    const { system, clusterId, self } = this.options;
    for (const [peer, batch] of byPeer) {
      const ref = system.ref<RaftPeerProtocol<M>>(raftActorName(clusterId, peer));
      for (const part of this.split(batch)) {
        try {
          ref.tell('batch', { from: self, messages: part });
        } catch (err) {
          // Connection closed or reconnecting buffer full: Raft resends what matters.
          this.options.log.debug({ err, peer }, 'raft batch not sent');
        }
      }
    }
  }

  /**
   * Cut a batch into runs that fit one publish each. A publish over the server's payload
   * limit is refused, and since Raft resends the same appends, a follower that fell more
   * than the limit behind would never catch up by log: every probe would be refused alike.
   */
  private split(batch: readonly M[]): (readonly M[])[] {
    const sizeOf = this.options.messageBytes;
    if (!sizeOf || batch.length === 1) return [batch];
    const limit = this.options.system.nc.info?.max_payload ?? 1024 * 1024;
    const budget = limit * batchShareOfPayload;
    const parts: M[][] = [];
    let current: M[] = [];
    let bytes = 0;
    for (const m of batch) {
      const size = sizeOf(m);
      if (current.length > 0 && bytes + size > budget) {
        parts.push(current);
        current = [];
        bytes = 0;
      }
      current.push(m);
      bytes += size;
    }
    parts.push(current);
    return parts;
  }

  /**
   * Stream the snapshot `meta` to `to`, then hand `message` to its core. Resolves true when
   * the peer has it, false when the transfer failed (the caller reports it to the core).
   * At most one transfer per peer: a second call while one runs joins it.
   */
  sendSnapshot(to: NodeId, message: M, meta: SnapshotMeta): Promise<boolean> {
    const running = this.sending.get(to);
    if (running) return running;
    const transfer = this.streamSnapshot(to, message, meta).finally(() => this.sending.delete(to));
    this.sending.set(to, transfer);
    return transfer;
  }

  private async streamSnapshot(to: NodeId, message: M, meta: SnapshotMeta): Promise<boolean> {
    const { system, clusterId, self, log } = this.options;
    const peer = system.ref<RaftPeerProtocol<M>>(raftActorName(clusterId, to));
    let reader: SnapshotReader | undefined;
    const t0 = performance.now();
    try {
      reader = await this.options.snapshots.openReader(meta);
      const total = reader.size;
      let offset = 0;
      // Bounded: every ack either moves the offset forward or sends it back to an earlier
      // offset the receiver still expects; cap the rounds so a confused peer cannot loop us.
      const maxRounds = 4 * Math.ceil(total / this.chunkBytes) + 8;
      for (let round = 0; round < maxRounds; round++) {
        if (failpointsArmed) await failpoint('raft.snapshotSend');
        const length = Math.min(this.chunkBytes, total - offset);
        const data = length > 0 ? await reader.read(offset, length) : new Uint8Array(0);
        const ack = await peer.ask(
          'snapshotChunk',
          { from: self, message, meta, total, offset, data },
          { timeoutMs: this.chunkTimeoutMs },
        );
        if (ack.done) {
          log.info(
            { to, index: meta.index, bytes: total, ms: Math.round(performance.now() - t0) },
            'snapshot sent',
          );
          return true;
        }
        offset = ack.next;
        if (offset < 0 || offset > total) throw new RangeError(`peer asked for offset ${offset} of ${total}`);
      }
      throw new Error('snapshot transfer made no progress');
    } catch (err) {
      log.warn({ err, to, index: meta.index }, 'snapshot transfer failed');
      return false;
    } finally {
      await reader?.close().catch(() => undefined);
    }
  }

  private async onChunk(chunk: Chunk<M>): Promise<ChunkAck> {
    this.lastHeardAt.set(chunk.from, performance.now());
    const key = `${chunk.from}/${chunk.meta.term}/${chunk.meta.index}/${chunk.total}`;
    if (key === this.lastReceivedKey) return { next: chunk.total, done: true };
    if (this.receiving && !this.receiving.receiver.isOpen) {
      // A failed write or checksum closed it: start the transfer over.
      this.receiving = undefined;
    }
    if (this.receiving?.key !== key) {
      // A new transfer replaces an unfinished one: only the newest snapshot matters.
      if (this.receiving) await this.receiving.receiver.abort().catch(() => undefined);
      this.receiving = undefined;
      if (chunk.offset !== 0) return { next: 0, done: false };
      this.receiving = { key, receiver: await this.options.snapshots.beginReceive(chunk.meta, chunk.total) };
    }
    const { receiver } = this.receiving;
    if (chunk.offset !== receiver.expectedOffset) return { next: receiver.expectedOffset, done: false };
    if (chunk.data.length > 0) await receiver.write(chunk.offset, chunk.data);
    const next = chunk.offset + chunk.data.length;
    if (next < chunk.total) return { next, done: false };
    await receiver.finish();
    this.receiving = undefined;
    this.lastReceivedKey = key;
    this.options.deliverSnapshot(chunk.message);
    return { next, done: true };
  }
}
