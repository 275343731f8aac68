/**
 * One API server replica: a store client, the verbs, the HTTP server and the NATS actor
 * of the cluster's queue group. It keeps nothing a replica could disagree on (every
 * request reads the store), so any replica serves any request and one may die at any
 * time; it only caches what follows from its configuration and code.
 */
import { randomUUID } from 'node:crypto';
import {
  type ActorHost,
  type ActorSystem,
  backoffDelayMs,
  type Logger,
  type Registry,
  sleep,
} from '@flotilla/actor';
import type { ApiProtocol } from '@flotilla/api';
import { parsePortRange, serviceIPRange } from '@flotilla/api';
import { StoreClient, storeLimits } from '@flotilla/store';
import type { FastifyInstance } from 'fastify';
import type { ApiServerConfig } from './config.ts';
import { createHttpServer } from './http/http-server.ts';
import { InflightLimiter } from './http/inflight.ts';
import type { HttpContext } from './http/resource-routes.ts';
import { apiServerMetrics } from './metrics.ts';
import { apiActor } from './nats/api-actor.ts';
import { bootstrap } from './registry/bootstrap.ts';
import type { RegistryContext } from './registry/context.ts';
import { EventLeases } from './registry/event-leases.ts';
import { ServiceAllocations } from './registry/service-allocation.ts';
import { cryptoRandom } from './registry/writes.ts';
import { ObjectStore, serializable } from './storage/object-store.ts';

/** NATS' default max payload, when the server does not say. */
const defaultMaxPayloadBytes = 1024 * 1024;
/** Room in a message for everything but the objects (frame, headers, list metadata). */
const frameOverheadBytes = 64 * 1024;
/** How long a readiness result of the store is reused. */
const storeProbeCacheMs = 1_000;

export type ApiServerDeps = {
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly registry: Registry;
};

export class ApiServer {
  readonly config: ApiServerConfig;
  private readonly log: Logger;
  private readonly http: FastifyInstance;
  private readonly httpContext: HttpContext;
  private readonly ctx: RegistryContext;
  private actor: ActorHost<ApiProtocol> | undefined;
  private bootstrapped = false;
  private stopped = false;
  private lastProbe: { readonly atMs: number; readonly failure: string | undefined } | undefined;
  private boundPort = 0;

  private constructor(config: ApiServerConfig, deps: ApiServerDeps) {
    this.config = config;
    this.log = deps.log.child({ component: 'apiserver' });
    const maxPayload = deps.system.nc.info?.max_payload ?? defaultMaxPayloadBytes;
    // An object must fit a store value and, with its frame, one NATS message.
    const maxObjectBytes = Math.min(storeLimits.maxValueBytes, maxPayload - frameOverheadBytes);
    const client = new StoreClient({
      system: deps.system,
      clusterId: config.clusterId,
      log: this.log,
      timeoutMs: config.storeTimeoutMs,
    });
    const metrics = apiServerMetrics(deps.registry);
    this.ctx = {
      store: new ObjectStore({ client, maxObjectBytes }),
      log: this.log,
      metrics,
      nowMs: () => Date.now(),
      random: cryptoRandom,
      newUid: () => randomUUID(),
      allocations: new ServiceAllocations(
        serviceIPRange(config.serviceClusterIPRange),
        parsePortRange(config.serviceNodePortRange),
        cryptoRandom,
      ),
      eventLeases: new EventLeases(client, { ttlSeconds: config.eventTtlSeconds, reuseSeconds: 60 }),
      paging: { pageBudgetBytes: Math.floor(maxPayload / 2), maxKeysPerPage: 1_000 },
      maxConflictRetries: 16,
    };
    const watchTimeoutMs = () => Math.round(config.minWatchTimeoutSeconds * 1000 * (1 + Math.random()));
    this.httpContext = {
      registry: this.ctx,
      inflight: new InflightLimiter(
        { readOnly: config.maxRequestsInflight, mutating: config.maxMutatingRequestsInflight },
        metrics.inflight,
      ),
      logTarget: { system: deps.system, clusterId: config.clusterId },
      metrics,
      watchTimeoutMs,
      openStreams: new Set(),
    };
    this.http = createHttpServer(this.httpContext, {
      prometheus: deps.registry,
      readiness: [
        { name: 'store', check: () => this.probeStore() },
        {
          name: 'bootstrap',
          check: async () => (this.bootstrapped ? undefined : 'system namespaces not created yet'),
        },
      ],
    });
    this.actor = deps.system.spawn(
      apiActor({
        registry: this.ctx,
        logTarget: this.httpContext.logTarget,
        metrics,
        clusterId: config.clusterId,
        maxReplyBytes: Math.floor(maxPayload / 2),
        watchTimeoutMs,
        maxInFlight: 2_000,
      }),
    );
  }

  /** Starts serving HTTP and NATS; the bootstrap objects are created in the background. */
  static async start(config: ApiServerConfig, deps: ApiServerDeps): Promise<ApiServer> {
    const server = new ApiServer(config, deps);
    await server.http.listen({ host: config.host, port: config.port });
    const address = server.http.server.address();
    server.boundPort = typeof address === 'object' && address !== null ? address.port : config.port;
    void server.runBootstrap();
    server.log.info(
      { host: config.host, port: server.boundPort, cluster: config.clusterId },
      'API server serving',
    );
    return server;
  }

  /** `http://<host>:<port>` as bound. */
  get url(): string {
    return `http://${this.config.host}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get ready(): boolean {
    return this.bootstrapped;
  }

  /** Stops taking requests, ends open watches and logs, and lets in-flight requests finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.actor?.stop(5_000);
    this.actor = undefined;
    await this.http.close();
  }

  private async runBootstrap(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await bootstrap(this.ctx, this.config.port);
        this.bootstrapped = true;
        this.log.info('system namespaces and the kubernetes Service are in place');
        return;
      } catch (err) {
        const pauseMs = backoffDelayMs(attempt, { initialMs: 200, maxMs: 5_000, multiplier: 2, jitter: 0.2 });
        this.log.warn({ err, attempt, retryInMs: pauseMs }, 'bootstrap failed; retrying');
        await sleep(pauseMs);
      }
    }
  }

  /** Whether a store member answers a read; the result is reused for a second. */
  private async probeStore(): Promise<string | undefined> {
    const now = performance.now();
    if (this.lastProbe !== undefined && now - this.lastProbe.atMs < storeProbeCacheMs)
      return this.lastProbe.failure;
    let failure: string | undefined;
    try {
      await this.ctx.store.currentRevision(serializable);
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    this.lastProbe = { atMs: performance.now(), failure };
    return failure;
  }
}
