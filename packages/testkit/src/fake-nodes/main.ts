// A process hosting fake nodes: configured by the JSON in FLOTILLA_FAKE_NODES_CONFIG (a
// partial FakeNodesConfig with a name), on the NATS servers and cluster of
// FLOTILLA_NATS_URLS and FLOTILLA_CLUSTER_ID; steered through its actor; SIGTERM stops it.
import { ActorSystem, ask, createLogger, createRegistry, exitOnSignals } from '@flotilla/actor';
import { NatsApiClient } from '@flotilla/api';
import { FakeNodes } from './fake-nodes.ts';
import {
  defaultFakeNodesConfig,
  type FakeNodesConfig,
  type FakeNodesProtocol,
  fakeNodesActorName,
  fakeNodesConfigEnvVar,
} from './protocol.ts';

const log = createLogger({ base: { component: 'fake-nodes' } });
const given = JSON.parse(process.env[fakeNodesConfigEnvVar] ?? '{}') as Partial<FakeNodesConfig>;
const config: FakeNodesConfig = { ...defaultFakeNodesConfig, name: 'fake-nodes', ...given };
const clusterId = process.env.FLOTILLA_CLUSTER_ID ?? '';
const servers = (process.env.FLOTILLA_NATS_URLS ?? '').split(',').filter((s) => s !== '');
if (clusterId === '' || servers.length === 0) {
  log.fatal('FLOTILLA_CLUSTER_ID and FLOTILLA_NATS_URLS are required');
  process.exit(2);
}
const system = await ActorSystem.connect({
  servers,
  log,
  registry: createRegistry(),
  prefix: 'flotilla',
  name: `fake-nodes-${config.name}`,
  pingIntervalMs: 1_000,
});
const nodes = new FakeNodes({ client: new NatsApiClient({ system, clusterId }), log, config });
await nodes.start();
system.spawn<FakeNodesProtocol>({
  name: fakeNodesActorName(clusterId, config.name),
  handlers: {
    summary: ask(() => nodes.summary()),
    setAlive: ask((req) => {
      nodes.setAlive(req.nodes, req.alive);
      return nodes.summary();
    }),
  },
});
log.info({ nodes: config.count, name: config.name }, 'fake nodes registered');
exitOnSignals(async () => {
  await nodes.stop();
  await system.shutdown({ timeoutMs: 2_000 });
}, log);
