/**
 * The scheduler as a leader-elected component, like kube-scheduler: every replica keeps
 * pod and node informers warm; the one holding the `kube-system/kube-scheduler` Lease
 * schedules. The lead composes it into the `flotilla server` process.
 */
import type { Logger, Registry } from '@flotilla/actor';
import type { ApiClient } from '@flotilla/api';
import { InformerFactory, type InformerFactoryOptions } from './informer/informer-factory.ts';
import { type LeaderElectionSettings, LeaderRun } from './leader/leader-run.ts';
import { nodesResource, podsResource } from './resources.ts';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.ts';

export type SchedulerServerOptions = {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly registry: Registry;
  readonly election?: LeaderElectionSettings;
  readonly lease?: { readonly namespace: string; readonly name: string };
  readonly informer?: InformerFactoryOptions['informer'];
  readonly scheduler?: SchedulerOptions;
  readonly now?: () => number;
};

export const schedulerLease = { namespace: 'kube-system', name: 'kube-scheduler' } as const;

export class SchedulerServer {
  readonly informers: InformerFactory;
  private readonly run: LeaderRun;
  private current: Scheduler | undefined;

  constructor(options: SchedulerServerOptions) {
    const log = options.log.child({ component: 'scheduler' });
    this.informers = new InformerFactory({
      client: options.client,
      log,
      registry: options.registry,
      ...(options.informer === undefined ? {} : { informer: options.informer }),
    });
    this.informers.informer(podsResource);
    this.informers.informer(nodesResource);
    this.run = new LeaderRun({
      client: options.client,
      log,
      registry: options.registry,
      informers: this.informers,
      lease: options.lease ?? schedulerLease,
      ...(options.election === undefined ? {} : { election: options.election }),
      now: options.now ?? Date.now,
      startWork: (ctx) => {
        const scheduler = new Scheduler(ctx, options.scheduler);
        this.current = scheduler;
        scheduler.start();
        return {
          stop: async () => {
            await scheduler.stop();
            if (this.current === scheduler) this.current = undefined;
          },
        };
      },
    });
  }

  get isLeader(): boolean {
    return this.run.isLeader;
  }

  get identity(): string {
    return this.run.elector.identity;
  }

  /** The scheduler of the current term, while this replica leads. */
  get scheduler(): Scheduler | undefined {
    return this.current;
  }

  whenWorking(): Promise<void> {
    return this.run.whenWorking();
  }

  start(): void {
    this.run.start();
  }

  async stop(): Promise<void> {
    await this.run.stop();
  }
}
