// Leader election, the shared informer and work queue, every controller, and the scheduler.

export { ConfigError, NotLeaderError } from './errors.ts';
export type { IndexFunc } from './informer/cache.ts';
export { Cache, namespaceIndex } from './informer/cache.ts';
export type { EventHandler, InformerOptions } from './informer/informer.ts';
export { Informer } from './informer/informer.ts';
export type { InformerFactoryOptions } from './informer/informer-factory.ts';
export { InformerFactory } from './informer/informer-factory.ts';
export { leaderGuardedClient } from './leader/guarded-client.ts';
export type { LeaderCallbacks, LeaderElectorOptions, LeaderTerm } from './leader/leader-elector.ts';
export {
  defaultLeaseDurationMs,
  defaultRenewDeadlineMs,
  defaultRetryPeriodMs,
  LeaderElector,
} from './leader/leader-elector.ts';
export type { WorkQueueOptions } from './queue/work-queue.ts';
export { WorkQueue } from './queue/work-queue.ts';
export * from './resources.ts';
