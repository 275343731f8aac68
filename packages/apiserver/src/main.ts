// An API server replica as its own process (`flotilla apiserver`, and the control-plane
// test harness): configured by the JSON in FLOTILLA_APISERVER_CONFIG, stopped by SIGTERM.
// Exit code 98 (EADDRINUSE) tells a supervisor that the port was taken.
import { ActorSystem, createLogger, createRegistry, exitOnSignals } from '@flotilla/actor';
import { ApiServer } from './api-server.ts';
import { ConfigError, configEnvVar, parseConfig } from './config.ts';

const addressInUseExitCode = 98;

const log = createLogger({ base: { component: 'apiserver' } });
let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(process.env[configEnvVar] ?? '');
} catch (err) {
  log.fatal({ err }, err instanceof ConfigError ? err.message : 'cannot read the configuration');
  process.exit(2);
}
log.level = config.logLevel;
const registry = createRegistry();
const system = await ActorSystem.connect({
  servers: config.nats,
  log,
  registry,
  prefix: 'flotilla',
  name: `apiserver-${process.pid}`,
  pingIntervalMs: config.natsPingIntervalMs,
});
let server: ApiServer;
try {
  server = await ApiServer.start(config, { system, log, registry });
} catch (err) {
  const inUse = (err as { code?: string }).code === 'EADDRINUSE';
  log.fatal({ err, port: config.port }, inUse ? 'port in use' : 'API server failed to start');
  process.exit(inUse ? addressInUseExitCode : 1);
}
exitOnSignals(async () => {
  await server.stop();
  await system.shutdown({ timeoutMs: 2_000 });
}, log);
