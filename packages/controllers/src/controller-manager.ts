/**
 * The controller manager: every controller of the cluster in one leader-elected
 * component, like kube-controller-manager. Every replica starts its informers at once;
 * the one holding the `kube-system/kube-controller-manager` Lease runs the controllers.
 * The lead composes it into the `flotilla server` process; it needs only an ApiClient.
 */
import type { Logger, Registry } from '@flotilla/actor';
import type { ApiClient } from '@flotilla/api';
import type { ControllerContext } from './context.ts';
import { Controller, type Reconciler } from './controller.ts';
import { DeploymentController } from './deployment/deployment-controller.ts';
import { EndpointsController } from './endpoints/endpoints-controller.ts';
import { EndpointSliceController } from './endpoints/endpointslice-controller.ts';
import { NotLeaderError } from './errors.ts';
import { GarbageCollector } from './gc/garbage-collector.ts';
import { InformerFactory, type InformerFactoryOptions } from './informer/informer-factory.ts';
import type { LeaderTerm } from './leader/leader-elector.ts';
import { type LeaderElectionSettings, LeaderRun } from './leader/leader-run.ts';
import { NamespaceController, type NamespaceFinalizer } from './namespace/namespace-controller.ts';
import { NodeIpamController, type NodeIpamOptions } from './nodeipam/node-ipam-controller.ts';
import { NodeHeartbeats } from './nodelifecycle/node-heartbeats.ts';
import { NodeLifecycleController } from './nodelifecycle/node-lifecycle-controller.ts';
import { TaintEvictionController } from './nodelifecycle/taint-eviction-controller.ts';
import { ReplicaSetController } from './replicaset/replicaset-controller.ts';
import { PersistentVolumeBinder } from './volume/pv-binder-controller.ts';

export const controllerNames = [
  'replicaset',
  'deployment',
  'node-lifecycle',
  'taint-eviction',
  'endpoints',
  'endpointslice',
  'garbage-collector',
  'namespace',
  'node-ipam',
  'persistentvolume-binder',
] as const;
export type ControllerName = (typeof controllerNames)[number];

/** Workers per controller: Kubernetes' --concurrent-*-syncs defaults where it has them. */
const defaultWorkers: Readonly<Record<ControllerName, number>> = {
  replicaset: 5,
  deployment: 5,
  'node-lifecycle': 2,
  'taint-eviction': 4,
  endpoints: 5,
  endpointslice: 5,
  'garbage-collector': 20,
  namespace: 10,
  'node-ipam': 2,
  'persistentvolume-binder': 2,
};

export type ControllerManagerOptions = {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly registry: Registry;
  /** Which controllers run (default: all; `namespace` needs `finalizeNamespace`). */
  readonly controllers?: readonly ControllerName[];
  readonly workers?: Partial<Record<ControllerName, number>>;
  readonly election?: LeaderElectionSettings;
  readonly lease?: { readonly namespace: string; readonly name: string };
  readonly informer?: InformerFactoryOptions['informer'];
  readonly nodeMonitorGracePeriodMs?: number;
  readonly defaultTolerationSeconds?: number;
  readonly nodeIpam?: NodeIpamOptions;
  /** Writes a namespace's `finalize` subresource (see NamespaceFinalizer). */
  readonly finalizeNamespace?: NamespaceFinalizer;
  readonly now?: () => number;
};

export const controllerManagerLease = { namespace: 'kube-system', name: 'kube-controller-manager' } as const;

export class ControllerManager {
  readonly informers: InformerFactory;
  private readonly options: ControllerManagerOptions;
  private readonly heartbeats: NodeHeartbeats;
  private readonly run: LeaderRun;
  private readonly enabled: readonly ControllerName[];
  private readonly log: Logger;

  constructor(options: ControllerManagerOptions) {
    this.options = options;
    this.log = options.log.child({ component: 'controller-manager' });
    const now = options.now ?? Date.now;
    this.informers = new InformerFactory({
      client: options.client,
      log: this.log,
      registry: options.registry,
      ...(options.informer === undefined ? {} : { informer: options.informer }),
    });
    this.heartbeats = new NodeHeartbeats(this.informers, now);
    const wanted = options.controllers ?? controllerNames;
    this.enabled = wanted.filter((c) => c !== 'namespace' || options.finalizeNamespace !== undefined);
    if (wanted.includes('namespace') && options.finalizeNamespace === undefined) {
      this.log.warn('namespace controller off: no finalizeNamespace given');
    }
    // Declare every informer and index now, so a standby's caches are warm when it takes over.
    const declaring: ControllerContext = {
      client: options.client,
      informers: this.informers,
      log: this.log,
      registry: options.registry,
      now,
    };
    this.reconcilers(declaring, undefined);
    this.run = new LeaderRun({
      client: options.client,
      log: this.log,
      registry: options.registry,
      informers: this.informers,
      lease: options.lease ?? controllerManagerLease,
      ...(options.election === undefined ? {} : { election: options.election }),
      now,
      startWork: (ctx, term) => this.startControllers(ctx, term),
    });
  }

  get isLeader(): boolean {
    return this.run.isLeader;
  }

  get identity(): string {
    return this.run.elector.identity;
  }

  /** Resolves once this replica leads and its controllers run. */
  whenWorking(): Promise<void> {
    return this.run.whenWorking();
  }

  start(): void {
    this.run.start();
  }

  /** Stops the controllers, gives up the lease (a standby takes over at once), stops the informers. */
  async stop(): Promise<void> {
    await this.run.stop();
    this.heartbeats.stop();
  }

  private startControllers(ctx: ControllerContext, term: LeaderTerm) {
    const controllers = this.reconcilers(ctx, term).map(
      (reconciler) =>
        new Controller({
          reconciler,
          log: this.log,
          registry: this.options.registry,
          workers:
            this.options.workers?.[reconciler.name as ControllerName] ??
            defaultWorkers[reconciler.name as ControllerName] ??
            2,
        }),
    );
    for (const c of controllers) c.start();
    return {
      stop: async () => {
        await Promise.all(controllers.map((c) => c.stop()));
      },
    };
  }

  /** The enabled controllers, built on `ctx` (their constructors declare the informers they read). */
  private reconcilers(ctx: ControllerContext, term: LeaderTerm | undefined): Reconciler[] {
    const o = this.options;
    const finalize = o.finalizeNamespace;
    const build: Record<ControllerName, () => Reconciler> = {
      replicaset: () => new ReplicaSetController(ctx),
      deployment: () => new DeploymentController(ctx),
      'node-lifecycle': () =>
        new NodeLifecycleController(ctx, {
          heartbeats: this.heartbeats,
          ...(o.nodeMonitorGracePeriodMs === undefined
            ? {}
            : { nodeMonitorGracePeriodMs: o.nodeMonitorGracePeriodMs }),
        }),
      'taint-eviction': () =>
        new TaintEvictionController(ctx, {
          ...(o.defaultTolerationSeconds === undefined
            ? {}
            : { defaultTolerationSeconds: o.defaultTolerationSeconds }),
        }),
      endpoints: () => new EndpointsController(ctx),
      endpointslice: () => new EndpointSliceController(ctx),
      'garbage-collector': () => new GarbageCollector(ctx),
      namespace: () =>
        new NamespaceController(ctx, {
          // The finalize write is a write like any other: refused once the term is over.
          finalize: async (ns) => {
            if (term === undefined || !term.isCurrent() || finalize === undefined) {
              throw new NotLeaderError(this.run.elector.lockName);
            }
            return finalize(ns);
          },
        }),
      'node-ipam': () => new NodeIpamController(ctx, o.nodeIpam),
      'persistentvolume-binder': () => new PersistentVolumeBinder(ctx),
    };
    return this.enabled.map((name) => build[name]());
  }
}
