import { setTimeout as delay } from 'node:timers/promises';
import type { NodeId } from '@flotilla/raft';
import type { MemberStatus } from '@flotilla/store';
import type { ChaosCluster } from '../faults/chaos-cluster.ts';

/** A leader as first seen by the monitor. */
export type LeaderSample = {
  readonly atMs: number;
  readonly leader: NodeId;
  readonly term: number;
};

/**
 * Polls every member's status and notes each new leader (term and member) when it first
 * sees it. A leader that came and went between two polls is missed: the count of leader
 * changes is a lower bound.
 */
export class ClusterMonitor {
  readonly leaders: LeaderSample[] = [];
  private readonly cluster: ChaosCluster;
  private readonly intervalMs: number;
  private readonly seen = new Set<string>();
  private readonly latest = new Map<NodeId, MemberStatus>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(cluster: ChaosCluster, intervalMs = 200) {
    this.cluster = cluster;
    this.intervalMs = intervalMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll();
        await delay(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The last status each member answered with. */
  status(member: NodeId): MemberStatus | undefined {
    return this.latest.get(member);
  }

  /** The leader of the highest term seen so far (terms restart after a restore). */
  currentLeader(): LeaderSample | undefined {
    return this.leaders.at(-1);
  }

  /** Resolves with the first leader seen other than `not` with a term above `aboveTerm`, or undefined. */
  async waitNewLeader(
    aboveTerm: number,
    not: NodeId | undefined,
    timeoutMs: number,
  ): Promise<LeaderSample | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.leaders.find((l) => l.term > aboveTerm && l.leader !== not);
      if (found) return found;
      if (performance.now() > deadline) return undefined;
      await delay(20);
    }
  }

  private async poll(): Promise<void> {
    const statuses = await this.cluster.statuses(Math.max(100, this.intervalMs));
    const now = performance.now();
    // A restore starts terms over: count the restores into what makes a leader new.
    const epoch = this.cluster.faults.filter((f) => f.kind === 'restore').length;
    for (const s of statuses) {
      this.latest.set(s.raft.id, s);
      if (s.raft.role !== 'leader') continue;
      const key = `${epoch}/${s.raft.term}/${s.raft.id}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.leaders.push({ atMs: now, leader: s.raft.id, term: s.raft.term });
    }
  }
}
