import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ActorSystem, silentLogger } from '@flotilla/actor';
import { type ApiClient, NatsApiClient, type NatsApiClientOptions } from '@flotilla/api';
import type { StoreClient } from '@flotilla/store';
import { type NatsCluster, startNats } from '../nats.ts';
import { freePort } from '../ports.ts';
import { ManagedProcess } from '../process.ts';
import { StoreCluster, type StoreClusterOptions } from '../store/store-cluster.ts';
import { tempDir } from '../tmp.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import { TcpBalancer } from './tcp-balancer.ts';

// The API server is started as a process by path: testkit does not import it.
const apiServerMain = fileURLToPath(new URL('../../../apiserver/src/main.ts', import.meta.url));

/** The exit code with which an API server says its port was taken. */
const addressInUseExitCode = 98;

/** What every API server replica of the control plane is configured with (see ApiServerConfig). */
export type ApiServerSettings = {
  readonly serviceClusterIPRange?: string;
  readonly serviceNodePortRange?: string;
  readonly eventTtlSeconds?: number;
  readonly minWatchTimeoutSeconds?: number;
  readonly storeTimeoutMs?: number;
};

export interface ControlPlaneOptions {
  /** API server processes (default 3). */
  readonly apiServers?: number;
  /** A NATS cluster to use (default: a fresh 3-server one). */
  readonly nats?: NatsCluster;
  /** The cluster id (default: a fresh one), for processes started before the control plane is up. */
  readonly clusterId?: string;
  /** How the 3-member store is started (see StoreCluster). */
  readonly store?: Omit<StoreClusterOptions, 'nats' | 'clusterId' | 'dir'>;
  readonly apiServer?: ApiServerSettings;
  /** Log level of the processes (default FLOTILLA_MEMBER_LOG_LEVEL or `warn`). */
  readonly logLevel?: string;
}

/** One API server replica the harness runs. */
export type ApiServerProcess = {
  readonly index: number;
  readonly process: ManagedProcess;
  /** `http://127.0.0.1:<port>`, straight to this replica. */
  readonly url: string;
  readonly port: number;
};

/** What an extra process of the cluster (controller manager, scheduler, agent) is started with. */
export type ExtraProcessSpec = {
  readonly name: string;
  /** A script run by this Node (TypeScript runs as is). */
  readonly script: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
};

/**
 * A whole control plane of real processes for end-to-end tests: a 3-server NATS cluster,
 * a 3-member store, and N API server replicas (each on its own loopback port, all in the
 * NATS queue group), behind a loopback TCP balancer like the one a real HA control plane
 * has. Tests get the URLs, kubeconfig files for kubectl, an ApiClient over NATS, and can
 * kill or restart replicas. Other components join with `startProcess`, which hands them
 * the cluster's NATS URLs and id. Everything is torn down when the test file ends.
 */
export class ControlPlane {
  readonly clusterId: string;
  readonly nats: NatsCluster;
  readonly store: StoreCluster;
  readonly dir: string;
  readonly balancer: TcpBalancer;
  /** A kubeconfig whose server is the balancer (any live replica). */
  readonly kubeconfig: string;
  private readonly replicas: ApiServerProcess[] = [];
  private readonly settings: ApiServerSettings;
  private readonly logLevel: string;
  private readonly systems: ActorSystem[] = [];
  private readonly extras: ManagedProcess[] = [];
  private readonly ownsNats: boolean;

  private constructor(
    nats: NatsCluster,
    store: StoreCluster,
    balancer: TcpBalancer,
    dir: string,
    options: ControlPlaneOptions,
  ) {
    this.nats = nats;
    this.store = store;
    this.clusterId = store.clusterId;
    this.balancer = balancer;
    this.dir = dir;
    this.settings = options.apiServer ?? {};
    this.logLevel = options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'warn';
    this.ownsNats = options.nats === undefined;
    this.kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(this.kubeconfig, kubeconfigYaml(balancer.url));
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const dir = tempDir('control-plane');
    const nats = options.nats ?? (await startNats({ size: 3, dir: join(dir, 'nats') }));
    const store = await StoreCluster.start({
      logLevel: options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'warn',
      ...options.store,
      ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }),
      nats,
      dir: join(dir, 'store'),
    });
    let plane: ControlPlane | undefined;
    const balancer = await TcpBalancer.start(() =>
      (plane?.replicas ?? []).filter((r) => r.process.running).map((r) => r.port),
    );
    plane = new ControlPlane(nats, store, balancer, dir, options);
    await store.waitForLeader(30_000);
    const count = options.apiServers ?? 3;
    for (let i = 0; i < count; i++) await plane.launch(i);
    await Promise.all(plane.replicas.map((r) => plane.waitReady(r.index)));
    return plane;
  }

  get apiServers(): readonly ApiServerProcess[] {
    return this.replicas;
  }

  /** The balancer's URL: any live replica. */
  get url(): string {
    return this.balancer.url;
  }

  apiServer(index: number): ApiServerProcess {
    const r = this.replicas[index];
    if (r === undefined) throw new Error(`no API server #${index} (there are ${this.replicas.length})`);
    return r;
  }

  /** A kubeconfig file whose server is replica `index` only. */
  kubeconfigFor(index: number): string {
    const path = join(this.dir, `kubeconfig-${index}`);
    writeFileSync(path, kubeconfigYaml(this.apiServer(index).url));
    return path;
  }

  /** The environment a process of this cluster needs: its NATS servers and cluster id. */
  processEnv(): Record<string, string> {
    return {
      FLOTILLA_NATS_URLS: this.nats.urls.join(','),
      FLOTILLA_CLUSTER_ID: this.clusterId,
      FLOTILLA_APISERVER_URL: this.url,
      FLOTILLA_LOG_LEVEL: this.logLevel,
    };
  }

  /**
   * Starts another process of the cluster (a controller manager, a scheduler, an agent):
   * `script` runs with this Node, with `processEnv()` added to its environment; its
   * output goes to `<dir>/<name>.log`. Kill or restart it through the ManagedProcess.
   */
  startProcess(spec: ExtraProcessSpec): ManagedProcess {
    const proc = new ManagedProcess({
      name: spec.name,
      command: process.execPath,
      args: [spec.script, ...(spec.args ?? [])],
      env: { ...this.processEnv(), ...spec.env },
      logFile: join(this.dir, `${spec.name}.log`),
    }).start();
    this.extras.push(proc);
    return proc;
  }

  /** An ApiClient over NATS, on its own connection (closed with the control plane). */
  async apiClient(
    options: Partial<Omit<NatsApiClientOptions, 'system' | 'clusterId'>> = {},
  ): Promise<ApiClient> {
    const system = await ActorSystem.connect({
      servers: this.nats.urls,
      log: silentLogger(),
      prefix: 'flotilla',
      name: 'api-client',
      pingIntervalMs: 1_000,
    });
    this.systems.push(system);
    return new NatsApiClient({ system, clusterId: this.clusterId, ...options });
  }

  /** A client of the store itself (to look at keys, or compact). */
  storeClient(): Promise<StoreClient> {
    return this.store.client();
  }

  /** Waits until replica `index` answers `/readyz` with 200. */
  async waitReady(index: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const r = this.apiServer(index);
      if (!r.process.running) {
        const exit = await r.process.waitExit();
        if (exit.code === addressInUseExitCode) {
          await this.launch(index);
          continue;
        }
        throw new Error(
          `API server #${index} exited (${exit.code ?? exit.signal}); see ${r.process.spec.logFile}`,
        );
      }
      try {
        const res = await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = String(err);
      }
      await delay(50);
    }
    throw new Error(`API server #${index} not ready after ${timeoutMs} ms (${last})`);
  }

  /** SIGKILL replica `index`. */
  async killApiServer(index: number): Promise<void> {
    await this.apiServer(index).process.kill();
  }

  /** SIGTERM replica `index` and wait for it to exit. */
  async stopApiServer(index: number): Promise<void> {
    await this.apiServer(index).process.stop(10_000);
  }

  /** Starts replica `index` again (on its port if still free) and waits until it is ready. */
  async restartApiServer(index: number): Promise<void> {
    const r = this.apiServer(index);
    if (r.process.running) await r.process.kill();
    r.process.start();
    await this.waitReady(index);
  }

  async stop(): Promise<void> {
    await Promise.all(this.systems.map((s) => s.shutdown({ timeoutMs: 500 })));
    await Promise.all(this.extras.map((p) => p.dispose()));
    await Promise.all(this.replicas.map((r) => r.process.dispose()));
    await this.balancer.close();
    await this.store.stop();
    if (this.ownsNats) await this.nats.stop();
  }

  /** Starts replica `index` on a free port (again, on a new port, when its old one was taken). */
  private async launch(index: number): Promise<void> {
    const port = await freePort();
    const config = {
      clusterId: this.clusterId,
      nats: [...this.nats.urls.slice(index % 3), ...this.nats.urls.slice(0, index % 3)],
      host: '127.0.0.1',
      port,
      logLevel: this.logLevel,
      natsPingIntervalMs: 1_000,
      ...this.settings,
    };
    const previous = this.replicas[index];
    if (previous !== undefined) await previous.process.dispose();
    const proc = new ManagedProcess({
      name: `apiserver-${index}`,
      command: process.execPath,
      args: [apiServerMain],
      env: { FLOTILLA_APISERVER_CONFIG: JSON.stringify(config) },
      logFile: join(this.dir, `apiserver-${index}.log`),
    }).start();
    this.replicas[index] = { index, process: proc, url: `http://127.0.0.1:${port}`, port };
  }
}
