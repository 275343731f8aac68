import type { NodeId } from '@flotilla/raft';

/**
 * Which members drop packets from which: the state behind `partition`, `isolate` and
 * `heal`. Partitions add up until healed; a member's drop set is what its host's rules
 * must say (packets are dropped where they arrive).
 */
export class PartitionTable {
  private readonly drops = new Map<NodeId, Set<NodeId>>();

  /**
   * Cut `a` from `b`: each member of `b` drops what comes from `a`, and (unless one-way)
   * each member of `a` drops what comes from `b`. Returns the members whose drop sets changed.
   */
  cut(a: readonly NodeId[], b: readonly NodeId[], oneWay: boolean): NodeId[] {
    if (a.length === 0 || b.length === 0) throw new RangeError('a partition needs a member on each side');
    if (a.some((m) => b.includes(m))) throw new RangeError(`partition sides overlap: [${a}] / [${b}]`);
    const touched = new Set<NodeId>();
    for (const x of a) {
      for (const y of b) {
        if (this.add(y, x)) touched.add(y);
        if (!oneWay && this.add(x, y)) touched.add(x);
      }
    }
    return [...touched];
  }

  /** The members `member` drops packets from. */
  dropsOf(member: NodeId): NodeId[] {
    return [...(this.drops.get(member) ?? [])].sort();
  }

  /** Forget everything; returns the members that were dropping something. */
  healAll(): NodeId[] {
    const dropping = [...this.drops.entries()].filter(([, s]) => s.size > 0).map(([m]) => m);
    this.drops.clear();
    return dropping.sort();
  }

  /** A member that left the cluster: nothing drops from it, and it drops nothing. */
  forget(member: NodeId): void {
    this.drops.delete(member);
    for (const s of this.drops.values()) s.delete(member);
  }

  private add(at: NodeId, from: NodeId): boolean {
    let s = this.drops.get(at);
    if (!s) {
      s = new Set();
      this.drops.set(at, s);
    }
    if (s.has(from)) return false;
    s.add(from);
    return true;
  }
}
