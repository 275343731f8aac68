/**
 * ReadIndex requests a leader holds until a quorum confirms it is still the leader (thesis
 * §6.4). Each read records the commit index when it arrived; a heartbeat round answered by
 * a quorum after that moment proves no newer leader existed then, so the read may be served
 * once the state machine has applied that index.
 */
import type { NodeId } from './types.ts';

export interface PendingRead {
  readonly context: string;
  /** The leader's commit index when the read arrived: the read is served at or after it. */
  readonly index: number;
  /** The member whose client asked (the leader itself, or a follower that forwarded it). */
  readonly from: NodeId;
  /** Voters that answered a heartbeat sent after the read arrived. */
  readonly acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  private readonly byContext = new Map<string, PendingRead>();
  /** Contexts in arrival order. */
  private order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  has(context: string): boolean {
    return this.byContext.has(context);
  }

  add(read: PendingRead): void {
    this.byContext.set(read.context, read);
    this.order.push(read.context);
  }

  /** The newest read's context: a heartbeat carrying it confirms every read before it too. */
  lastContext(): string | null {
    return this.order.length === 0 ? null : this.order[this.order.length - 1]!;
  }

  /** A voter answered the heartbeat carrying `context`; returns that read, or undefined if it is not pending. */
  ack(context: string, voter: NodeId): PendingRead | undefined {
    const read = this.byContext.get(context);
    read?.acks.add(voter);
    return read;
  }

  /** Remove and return every read up to and including `context`, oldest first. */
  releaseThrough(context: string): PendingRead[] {
    const at = this.order.indexOf(context);
    if (at < 0) return [];
    const released = this.order.splice(0, at + 1).map((c) => this.byContext.get(c)!);
    for (const r of released) this.byContext.delete(r.context);
    return released;
  }

  clear(): void {
    this.byContext.clear();
    this.order = [];
  }
}
