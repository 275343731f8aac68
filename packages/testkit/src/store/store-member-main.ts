// A store member process for tests, chaos runs and benchmarks: a StoreMember (MVCC on
// LMDB, replicated by Raft) serving on NATS. Configured by the JSON in FLOTILLA_STORE_CONFIG.
import {
  ActorSystem,
  createLogger,
  createRegistry,
  exitOnSignals,
  failpointsArmed,
  serveFailpoints,
} from '@flotilla/actor';
import { StoreMember } from '@flotilla/store';
import type { StoreMemberConfig } from './store-cluster.ts';

const config = JSON.parse(process.env.FLOTILLA_STORE_CONFIG ?? '{}') as StoreMemberConfig;
const log = createLogger({ level: config.logLevel, base: { member: config.id } });
const registry = createRegistry({ member: config.id });
const system = await ActorSystem.connect({
  servers: config.nats,
  log,
  registry,
  prefix: 'flotilla',
  name: `store-${config.id}`,
  pingIntervalMs: 1_000,
});
// Chaos runs start members with FLOTILLA_FAILPOINTS; the harness switches them through this.
const failpoints = failpointsArmed ? serveFailpoints(system, `${config.clusterId}.${config.id}`) : undefined;
await failpoints?.ready;
const member = await StoreMember.open({
  id: config.id,
  clusterId: config.clusterId,
  dir: config.dir,
  system,
  log,
  registry,
  bootstrap: config.bootstrap,
  raft: {
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    snapshotEveryEntries: config.snapshotEveryEntries,
    snapshotCatchUpEntries: config.snapshotCatchUpEntries,
  },
  autoCompactionRetainRevisions: config.autoCompactionRetainRevisions,
});
await member.ready();
exitOnSignals(async () => {
  await failpoints?.stop(1_000);
  await member.stop();
  await system.shutdown({ timeoutMs: 2_000 });
}, log);
log.info({ id: config.id }, 'store member ready');
