export { cleanupAll, registerCleanup } from './cleanup.ts';
export * from './linearizability/index.ts';
export type { NatsCluster, NatsServer, StartNatsOptions } from './nats.ts';
export { natsServerBinary, startNats } from './nats.ts';
export { freePort, freePorts } from './ports.ts';
export type { ExitInfo, ProcessSpec } from './process.ts';
export { ManagedProcess } from './process.ts';
export { tempDir } from './tmp.ts';
