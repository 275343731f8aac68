// Leader election, the shared informer and work queue, every controller, and the scheduler.

export type { ControllerContext } from './context.ts';
export type { ControllerOptions, Enqueue, ReconcileResult, Reconciler } from './controller.ts';
export { Controller, done, requeueAfter } from './controller.ts';
export type { ControllerManagerOptions, ControllerName } from './controller-manager.ts';
export { ControllerManager, controllerManagerLease, controllerNames } from './controller-manager.ts';
export { DeploymentController } from './deployment/deployment-controller.ts';
export {
  podTemplateHashLabel,
  revisionAnnotation,
  revisionHistoryAnnotation,
} from './deployment/rollout-math.ts';
export { EndpointsController } from './endpoints/endpoints-controller.ts';
export { EndpointSliceController } from './endpoints/endpointslice-controller.ts';
export { ConfigError, NotLeaderError } from './errors.ts';
export type { EventRecorderOptions } from './event-recorder.ts';
export { EventRecorder } from './event-recorder.ts';
export { Expectations } from './expectations.ts';
export { GarbageCollector } from './gc/garbage-collector.ts';
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
export type { LeaderElectionSettings } from './leader/leader-run.ts';
export type { NamespaceFinalizer } from './namespace/namespace-controller.ts';
export { NamespaceController } from './namespace/namespace-controller.ts';
export { natsNamespaceFinalizer } from './namespace/nats-finalizer.ts';
export { NodeIpamController } from './nodeipam/node-ipam-controller.ts';
export { NodeHeartbeats } from './nodelifecycle/node-heartbeats.ts';
export { NodeLifecycleController } from './nodelifecycle/node-lifecycle-controller.ts';
export { TaintEvictionController } from './nodelifecycle/taint-eviction-controller.ts';
export type { WorkQueueOptions } from './queue/work-queue.ts';
export { WorkQueue } from './queue/work-queue.ts';
export { ReplicaSetController } from './replicaset/replicaset-controller.ts';
export * from './resources.ts';
export { failureMessage } from './scheduler/filters.ts';
export type { SchedulerOptions } from './scheduler/scheduler.ts';
export { Scheduler } from './scheduler/scheduler.ts';
export type { SchedulerServerOptions } from './scheduler-server.ts';
export { SchedulerServer, schedulerLease } from './scheduler-server.ts';
export { PersistentVolumeBinder } from './volume/pv-binder-controller.ts';
