/**
 * The real cluster the end-to-end suites run against: a ControlPlane (3-server NATS, a
 * 3-member Raft store, API server replicas), fake nodes, and controller-manager and
 * scheduler replicas as processes (test/fixtures/*-main.ts).
 */
import { fileURLToPath } from 'node:url';
import { createLogger } from '@flotilla/actor';
import type { ApiClient, Lease, Pod, WatchEvent } from '@flotilla/api';
import {
  ControlPlane,
  type ControlPlaneOptions,
  FakeNodeProcess,
  type FakeNodesConfig,
  type ManagedProcess,
} from '@flotilla/testkit';
import type { ControllerManagerOptions, SchedulerServerOptions } from '../src/index.ts';
import { leasesResource, podsResource } from '../src/index.ts';

/** Where the suites report what they measured (stderr, one JSON line each). */
export const report = createLogger({ level: 'info', base: { component: 'e2e' } });

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Election timings for the suites: the defaults (3 s lease, 2 s deadline, 0.5 s retry). */
export type ReplicaOptions = { readonly identity: string };

export class E2eCluster {
  readonly plane: ControlPlane;
  readonly api: ApiClient;
  private constructor(plane: ControlPlane, api: ApiClient) {
    this.plane = plane;
    this.api = api;
  }

  static async start(options: ControlPlaneOptions = {}): Promise<E2eCluster> {
    const plane = await ControlPlane.start({
      apiServers: 2,
      ...options,
      apiServer: { eventTtlSeconds: 3600, ...options.apiServer },
    });
    return new E2eCluster(plane, await plane.apiClient());
  }

  controllerManager(
    identity: string,
    options: Partial<Omit<ControllerManagerOptions, 'client' | 'log' | 'registry'>> = {},
  ): ManagedProcess {
    return this.plane.startProcess({
      name: `controller-manager-${identity}`,
      script: fixture('controller-manager-main.ts'),
      env: {
        FLOTILLA_CONTROLLER_MANAGER: JSON.stringify({
          ...options,
          election: { identity, ...options.election },
          informer: { resyncPeriodMs: 0, ...options.informer },
        }),
      },
    });
  }

  scheduler(
    identity: string,
    options: Partial<Omit<SchedulerServerOptions, 'client' | 'log' | 'registry'>> = {},
  ): ManagedProcess {
    return this.plane.startProcess({
      name: `scheduler-${identity}`,
      script: fixture('scheduler-main.ts'),
      env: {
        FLOTILLA_SCHEDULER: JSON.stringify({ ...options, election: { identity, ...options.election } }),
      },
    });
  }

  private readonly nodeProcesses: FakeNodeProcess[] = [];

  async fakeNodes(config: Partial<FakeNodesConfig> & { readonly name: string }): Promise<FakeNodeProcess> {
    const nodes = await FakeNodeProcess.start(this.plane, config);
    this.nodeProcesses.push(nodes);
    return nodes;
  }

  /** Fake nodes first (their connections close while NATS still runs), then the control plane. */
  async stop(): Promise<void> {
    await Promise.all(this.nodeProcesses.map((n) => n.close()));
    await this.plane.stop();
  }

  /** The identity holding a Lease in kube-system ('' when free or missing). */
  async holder(lease: string): Promise<string> {
    try {
      const l = await this.api.resource<Lease>(leasesResource).get(lease, 'kube-system');
      return l.spec?.holderIdentity ?? '';
    } catch {
      return '';
    }
  }
}

/** Polls `check` until it returns something other than undefined/false (bounded by `timeoutMs`). */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Every change to a set of pods from a known starting point (a list, then a watch from its
 * revision), so a suite can replay the history and check an invariant at each revision.
 */
export class PodTimeline {
  readonly initial: readonly Pod[];
  readonly events: { readonly revision: number; readonly type: string; readonly pod: Pod }[] = [];
  private readonly watch: { cancel(): void };
  private readonly done: Promise<void>;
  private failure: unknown;

  private constructor(
    initial: readonly Pod[],
    watch: AsyncIterableIterator<WatchEvent<Pod>> & { cancel(): void },
  ) {
    this.initial = initial;
    this.watch = watch;
    this.done = (async () => {
      try {
        for await (const e of watch) {
          if (e.type === 'BOOKMARK') continue;
          if (e.type === 'ERROR') throw new Error(`watch error: ${e.object.message}`);
          this.events.push({
            revision: Number(e.object.metadata.resourceVersion),
            type: e.type,
            pod: e.object,
          });
        }
      } catch (err) {
        this.failure = err;
      }
    })();
  }

  static async start(api: ApiClient, labelSelector: string): Promise<PodTimeline> {
    const pods = api.resource<Pod>(podsResource);
    const list = await pods.list({ labelSelector });
    const watch = pods.watch({ labelSelector, resourceVersion: list.metadata.resourceVersion ?? '' });
    return new PodTimeline(list.items, watch);
  }

  /** Calls `check(pods)` with the pods as they stood after each event (after `fromRevision`). */
  replay(check: (pods: readonly Pod[], revision: number) => void, fromRevision = 0): void {
    if (this.failure !== undefined) throw this.failure;
    const current = new Map(this.initial.map((p) => [p.metadata.uid ?? '', p]));
    for (const e of this.events) {
      if (e.type === 'DELETED') current.delete(e.pod.metadata.uid ?? '');
      else current.set(e.pod.metadata.uid ?? '', e.pod);
      if (e.revision > fromRevision) check([...current.values()], e.revision);
    }
  }

  async stop(): Promise<void> {
    this.watch.cancel();
    await this.done;
  }
}
