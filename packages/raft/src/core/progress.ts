/**
 * What a leader knows about one follower's log, and how it sends to it:
 *
 * - probe: we do not know where the follower's log matches ours. Send one append, wait for
 *   the answer (or the next heartbeat answer), and back off using the follower's hint.
 * - replicate: the follower's log matches through `match`; stream appends optimistically
 *   (advancing `next` before the answer), bounded by the in-flight window.
 * - snapshot: the entries it needs are compacted; a snapshot is on its way and nothing else
 *   is sent until the transport reports how that went.
 */
import { Inflights } from './inflights.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** The highest index known to be in the follower's log (on its disk). */
  match = 0;
  /** The next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is out and we wait for its answer before sending another. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot on its way. */
  pendingSnapshot = 0;
  /** We heard from the follower during the current election timeout (CheckQuorum, promotion). */
  recentActive = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, isLearner: boolean, maxInflightMessages: number, maxInflightBytes: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
  }

  becomeProbe(): void {
    // After a snapshot went through, the follower holds at least the snapshot.
    this.next =
      this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.state = 'replicate';
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot';
    this.probeSent = false;
    this.pendingSnapshot = snapshotIndex;
    this.inflights.reset();
  }

  /** Nothing more may be sent until an answer arrives. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** An append carrying entries through `lastIndex` (none when `count` is 0) went out. */
  sentEntries(lastIndex: number, count: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** The follower acknowledged `index`. Returns whether that is news (its match moved). */
  maybeUpdate(index: number): boolean {
    const updated = index > this.match;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    if (index + 1 > this.next) this.next = index + 1;
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`; `hint` is the last index that may still
   * match. Returns false when the rejection is stale (it answers an append we have since
   * moved past), true when `next` moved back and the caller should send again.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    switch (this.state) {
      case 'replicate':
        // Everything through match is known good: resume right after it.
        if (rejected <= this.match) return false;
        this.next = this.match + 1;
        return true;
      case 'probe':
        // Only the answer to the probe we sent (at next - 1) counts.
        if (this.next - 1 !== rejected) return false;
        this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
        this.probeSent = false;
        return true;
      case 'snapshot':
        return false;
    }
  }
}
