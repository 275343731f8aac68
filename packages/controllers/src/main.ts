// The controller manager as its own process for test harnesses that need settings the
// `flotilla controllers` command does not expose (testkit's AgentCluster shortens the
// node monitor grace period and the default NoExecute toleration with it): configured by
// the JSON in FLOTILLA_CONTROLLERS_CONFIG, stopped by SIGTERM. Production runs
// `flotilla controllers` or `flotilla server`.
import { ActorSystem, createLogger, createRegistry, exitOnSignals } from '@flotilla/actor';
import { NatsApiClient } from '@flotilla/api';
import { ControllerManager } from './controller-manager.ts';
import { natsNamespaceFinalizer } from './namespace/nats-finalizer.ts';

export const controllersConfigEnvVar = 'FLOTILLA_CONTROLLERS_CONFIG';

type MainConfig = {
  readonly clusterId: string;
  readonly member: string;
  readonly nats: readonly string[];
  readonly logLevel?: string;
  readonly clusterCIDR?: string;
  readonly nodeCIDRMaskSize?: number;
  readonly nodeMonitorGracePeriodMs?: number;
  readonly defaultTolerationSeconds?: number;
};

const log = createLogger({ base: { component: 'controller-manager' } });
let config: MainConfig;
try {
  config = JSON.parse(process.env[controllersConfigEnvVar] ?? '') as MainConfig;
  if (
    typeof config.clusterId !== 'string' ||
    !Array.isArray(config.nats) ||
    typeof config.member !== 'string'
  ) {
    throw new Error('clusterId, member and nats are required');
  }
} catch (err) {
  log.fatal({ err }, `cannot read ${controllersConfigEnvVar}`);
  process.exit(2);
}
log.level = config.logLevel ?? 'info';
const registry = createRegistry({ member: config.member });
const system = await ActorSystem.connect({
  servers: [...config.nats],
  log,
  registry,
  prefix: 'flotilla',
  name: `flotilla-controllers-${config.member}`,
});
const manager = new ControllerManager({
  client: new NatsApiClient({ system, clusterId: config.clusterId }),
  log: log.child({ member: config.member }),
  registry,
  nodeIpam: {
    ...(config.clusterCIDR === undefined ? {} : { clusterCIDR: config.clusterCIDR }),
    ...(config.nodeCIDRMaskSize === undefined ? {} : { nodeMaskSize: config.nodeCIDRMaskSize }),
  },
  ...(config.nodeMonitorGracePeriodMs === undefined
    ? {}
    : { nodeMonitorGracePeriodMs: config.nodeMonitorGracePeriodMs }),
  ...(config.defaultTolerationSeconds === undefined
    ? {}
    : { defaultTolerationSeconds: config.defaultTolerationSeconds }),
  finalizeNamespace: natsNamespaceFinalizer(system, config.clusterId),
});
manager.start();
log.info(
  {
    nodeMonitorGracePeriodMs: config.nodeMonitorGracePeriodMs,
    defaultTolerationSeconds: config.defaultTolerationSeconds,
  },
  'controller manager started',
);
exitOnSignals(async () => {
  await manager.stop();
  await system.shutdown({ timeoutMs: 2_000 });
}, log);
