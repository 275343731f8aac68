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
  private readonly actor: ActorRef<FakeNodesProtocol>;

  private constructor(process: ManagedProcess, config: FakeNodesConfig, actor: ActorRef<FakeNodesProtocol>) {
    this.process = process;
    this.config = config;
    this.actor = actor;
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
      env: { [fakeNodesConfigEnvVar]: JSON.stringify(full) },
    });
    const system = await ActorSystem.connect({
      servers: plane.nats.urls,
      log: silentLogger(),
      prefix: 'flotilla',
      name: `fake-nodes-client-${full.name}`,
      pingIntervalMs: 1_000,
    });
    registerCleanup({
      name: `fake-nodes-client-${full.name}`,
      run: () => system.shutdown({ timeoutMs: 500 }),
    });
    const handle = new FakeNodeProcess(
      process,
      full,
      system.ref(fakeNodesActorName(plane.clusterId, full.name)),
    );
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
}
