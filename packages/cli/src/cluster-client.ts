import { setTimeout as delay } from 'node:timers/promises';
import { ActorSystem, silentLogger } from '@flotilla/actor';
import { type MemberStatus, StoreClient } from '@flotilla/store';
import { type ClusterState, natsUrls } from './local-cluster.ts';

/** A connection to a local cluster's NATS servers and a store client on it. */
export interface ClusterClient {
  readonly system: ActorSystem;
  readonly store: StoreClient;
  close(): Promise<void>;
}

export async function connectCluster(state: ClusterState, timeoutMs = 10_000): Promise<ClusterClient> {
  const system = await ActorSystem.connect({
    servers: natsUrls(state),
    log: silentLogger(),
    prefix: 'flotilla',
    name: 'flo',
    pingIntervalMs: 1_000,
  });
  const store = new StoreClient({ system, clusterId: state.cluster, timeoutMs, attemptTimeoutMs: 2_000 });
  return { system, store, close: () => system.shutdown({ timeoutMs: 500 }) };
}

/** Every member's status, or undefined for a member that does not answer in time. */
export async function memberStatuses(
  client: ClusterClient,
  state: ClusterState,
  timeoutMs = 1_000,
): Promise<Array<{ name: string; status: MemberStatus | undefined }>> {
  const quick = new StoreClient({
    system: client.system,
    clusterId: state.cluster,
    timeoutMs,
    attemptTimeoutMs: timeoutMs,
  });
  return Promise.all(
    state.members.map(async (m) => ({
      name: m.name,
      status: await quick.status(m.name).catch(() => undefined),
    })),
  );
}

/** The leader as a majority of answering members agree, waiting up to `timeoutMs`. */
export async function waitForLeader(
  client: ClusterClient,
  state: ClusterState,
  timeoutMs: number,
  exclude?: { readonly name: string; readonly term: number },
): Promise<{ name: string; term: number } | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const all = await memberStatuses(client, state, 300);
    for (const { status } of all) {
      if (status?.raft.role !== 'leader') continue;
      if (exclude && (status.raft.id === exclude.name || status.raft.term <= exclude.term)) continue;
      const agree = all.filter((x) => x.status?.raft.leader === status.raft.id).length;
      if (agree * 2 > status.raft.conf.voters.length) return { name: status.raft.id, term: status.raft.term };
    }
    await delay(25);
  }
  return undefined;
}
