// A Raft member process for tests and benchmarks: a RaftNode with the LogMachine, its
// admin actor on NATS, and SIGTERM handling (a leader hands over before exiting).
// Configured by the JSON in FLOTILLA_MEMBER_CONFIG.
import { ActorSystem, ask, createLogger, createRegistry, exitOnSignals } from '@flotilla/actor';
import { type ConfChange, RaftNode } from '@flotilla/raft';
import { LogMachine } from './log-machine.ts';
import { type MemberConfig, type MemberProtocol, memberActorName } from './member-protocol.ts';

const config = JSON.parse(process.env.FLOTILLA_MEMBER_CONFIG ?? '{}') as MemberConfig;
const log = createLogger({ level: config.logLevel, base: { member: config.id } });
const registry = createRegistry({ member: config.id });
const system = await ActorSystem.connect({
  servers: config.nats,
  log,
  registry,
  prefix: 'flotilla',
  name: `raft-member-${config.id}`,
  pingIntervalMs: 1_000,
});
const machine = new LogMachine();
const node = await RaftNode.open({
  id: config.id,
  clusterId: config.clusterId,
  dir: config.dir,
  system,
  log,
  registry,
  stateMachine: machine,
  bootstrap: config.bootstrap,
  tickMs: config.tickMs,
  electionTicks: config.electionTicks,
  snapshotEveryEntries: config.snapshotEveryEntries,
  snapshotCatchUpEntries: config.snapshotCatchUpEntries,
});
const utf8 = new TextEncoder();

const host = system.spawn<MemberProtocol>({
  name: memberActorName(config.clusterId, config.id),
  logBindings: { component: 'raft-member', member: config.id },
  handlers: {
    propose: ask(async (req: { payload: string; timeoutMs: number }) => {
      const out = await node.propose(utf8.encode(req.payload), { timeoutMs: req.timeoutMs });
      return { index: out.index, term: out.term };
    }),
    read: ask(async (req: { timeoutMs: number }) => {
      const index = await node.read({ timeoutMs: req.timeoutMs });
      return { index, summary: machine.summary() };
    }),
    status: ask(() => node.status()),
    summary: ask(() => machine.summary()),
    slice: ask((req: { from: number; count: number }) => machine.slice(req.from, Math.min(req.count, 5_000))),
    transfer: ask((req: { to: string | null }) => node.transferLeadership(req.to ?? undefined)),
    membership: ask((req: { change: ConfChange; timeoutMs: number }) =>
      node.changeMembership(req.change, { timeoutMs: req.timeoutMs }),
    ),
  },
});
await host.ready;

// Order matters for "no failed proposal beyond in-flight ones": stop taking requests and
// let the ones in flight commit while still leading, then hand leadership over, then go.
exitOnSignals(async () => {
  await host.stop(5_000);
  await node.stop({ transfer: true });
  await system.shutdown({ timeoutMs: 2_000 });
}, log);
log.info({ id: config.id }, 'member ready');
