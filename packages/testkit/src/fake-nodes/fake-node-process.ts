/**
 * Fake nodes as a process of a test's control plane: started with ControlPlane.startProcess,
 * steered through their actor (silence a node, read counts), SIGKILLed like any process.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type ActorRef, ActorSystem, silentLogger } from '@flotilla/actor';
import { registerCleanup } from '../cleanup.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { ManagedProcess } from '../process.ts';
import {
  defaultFakeNodesConfig,
  type FakeNodesConfig,
  type FakeNodesProtocol,
  type FakeNodesSummary,
  fakeNodeName,
  fakeNodesActorName,
  fakeNodesConfigEnvVar,
} from './protocol.ts';

const mainScript = fileURLToPath(new URL('./main.ts', import.meta.url));

export class FakeNodeProcess {
  readonly process: ManagedProcess;
  readonly config: FakeNodesConfig;
  private readonly system: ActorSystem;
  private readonly actor: ActorRef<FakeNodesProtocol>;

  private constructor(process: ManagedProcess, config: FakeNodesConfig, system: ActorSystem) {
    this.process = process;
    this.config = config;
    this.system = system;
    this.actor = system.ref(fakeNodesActorName(process.spec.env?.FLOTILLA_CLUSTER_ID ?? '', config.name));
  }

  /** Starts the process and waits until every node is registered. */
  static async start(
    plane: ControlPlane,
    config: Partial<FakeNodesConfig> & { readonly name: string },
    timeoutMs = 60_000,
  ): Promise<FakeNodeProcess> {
    const full: FakeNodesConfig = { ...defaultFakeNodesConfig, ...config };
    const process = plane.startProcess({
      name: `fake-nodes-${full.name}`,
      script: mainScript,
      env: { [fakeNodesConfigEnvVar]: JSON.stringify(full), FLOTILLA_CLUSTER_ID: plane.clusterId },
    });
    const system = await ActorSystem.connect({
      servers: plane.nats.urls,
      log: silentLogger(),
      prefix: 'flotilla',
      name: `fake-nodes-client-${full.name}`,
      pingIntervalMs: 1_000,
    });
    const handle = new FakeNodeProcess(process, full, system);
    registerCleanup({ name: `fake-nodes-client-${full.name}`, run: () => handle.close() });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!process.running) throw new Error(`fake nodes exited during start; see ${process.spec.logFile}`);
      try {
        const s = await handle.summary();
        if (s.registered === s.nodes) return handle;
      } catch {
        // not serving yet
      }
      if (Date.now() > deadline) throw new Error(`fake nodes not registered after ${timeoutMs} ms`);
      await delay(100);
    }
  }

  nodeName(index: number): string {
    return fakeNodeName(this.config.prefix, index);
  }

  get nodeNames(): string[] {
    return Array.from({ length: this.config.count }, (_, i) => this.nodeName(i));
  }

  summary(): Promise<FakeNodesSummary> {
    return this.actor.ask('summary', {}, { timeoutMs: 5_000 });
  }

  /** Stops (or resumes) the heartbeats and pod handling of these nodes. */
  setAlive(nodes: readonly string[], alive: boolean): Promise<FakeNodesSummary> {
    return this.actor.ask('setAlive', { nodes, alive }, { timeoutMs: 5_000 });
  }

  /**
   * Closes this handle's NATS connection and kills the process. Call it before the NATS
   * servers stop: a connection whose drain fails would otherwise keep reconnecting.
   */
  async close(): Promise<void> {
    if (!this.system.nc.isClosed()) {
      await this.system.shutdown({ timeoutMs: 500 });
      if (!this.system.nc.isClosed()) await this.system.nc.close();
    }
    await this.process.kill();
  }
}
