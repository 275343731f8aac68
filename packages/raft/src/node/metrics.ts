import { Counter, Gauge, metricOnce, type Registry } from '@flotilla/actor';

export interface RaftMetrics {
  readonly term: Gauge;
  readonly isLeader: Gauge;
  readonly leaderChanges: Counter;
  readonly proposals: Counter<'outcome'>;
  readonly commitIndex: Gauge;
  readonly appliedIndex: Gauge;
  readonly applyLag: Gauge;
  readonly snapshots: Counter<'kind'>;
}

/** The node's metrics, on the process registry, labelled by member through default labels. */
export function raftMetrics(registry: Registry): RaftMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string) =>
    metricOnce(registry, name, () => new Gauge({ name, help, registers }));
  return {
    term: gauge('flotilla_raft_term', 'Current Raft term'),
    isLeader: gauge('flotilla_raft_is_leader', '1 while this member leads'),
    leaderChanges: metricOnce(
      registry,
      'flotilla_raft_leader_changes_total',
      () =>
        new Counter({ name: 'flotilla_raft_leader_changes_total', help: 'Leader changes seen', registers }),
    ),
    proposals: metricOnce(
      registry,
      'flotilla_raft_proposals_total',
      () =>
        new Counter({
          name: 'flotilla_raft_proposals_total',
          help: 'Proposals by outcome (applied, dropped, timeout, leader-changed, not-leader)',
          labelNames: ['outcome'],
          registers,
        }),
    ),
    commitIndex: gauge('flotilla_raft_commit_index', 'Highest log index known committed'),
    appliedIndex: gauge('flotilla_raft_applied_index', 'Highest log index applied to the state machine'),
    applyLag: gauge('flotilla_raft_apply_lag_entries', 'Committed entries not yet applied'),
    snapshots: metricOnce(
      registry,
      'flotilla_raft_snapshots_total',
      () =>
        new Counter({
          name: 'flotilla_raft_snapshots_total',
          help: 'Snapshots taken, sent, received and installed',
          labelNames: ['kind'],
          registers,
        }),
    ),
  };
}
