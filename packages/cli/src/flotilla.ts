#!/usr/bin/env node
import { exitOnSignals } from '@flotilla/actor';
// `flotilla`: the long-running processes. `flotilla store` runs a store member; the other
// components join as they are built (`server` composes them in one process, as k3s does).
import { Command } from 'commander';
import { processContext, type RunningComponent, startStore } from './commands/store.ts';
import { ConfigError, type FlotillaConfig, loadConfig } from './config/load.ts';
import { flagName, settings } from './config/settings.ts';

type ComponentStart = (ctx: Awaited<ReturnType<typeof processContext>>) => Promise<RunningComponent>;

// Loaded only by the commands that run them: a node agent need not load the API server
// and the controllers (seconds of start-up on a busy machine).
const startApiServer: ComponentStart = async (ctx) =>
  (await import('./commands/control-plane.ts')).startApiServer(ctx);
const startControllers: ComponentStart = async (ctx) =>
  (await import('./commands/control-plane.ts')).startControllers(ctx);
const startScheduler: ComponentStart = async (ctx) =>
  (await import('./commands/control-plane.ts')).startScheduler(ctx);
const startAgent: ComponentStart = async (ctx) => (await import('./commands/agent.ts')).startAgent(ctx);

const common = ['cluster', 'member', 'nats', 'log'];
const components: Record<
  string,
  {
    readonly description: string;
    readonly start: readonly ComponentStart[];
    readonly uses: readonly string[];
    /** Settings it cannot start without (beyond `member`). */
    readonly required?: readonly string[];
    /** Short flags for settings, e.g. `--node-ip` for `--agent-node-ip`. */
    readonly aliases?: Readonly<Record<string, string>>;
  }
> = {
  server: {
    description: 'a control-plane member: store, API server, controller manager and scheduler in one process',
    start: [startStore, startApiServer, startControllers, startScheduler],
    uses: [...common, 'dataDir', 'store', 'apiserver', 'controllers'],
  },
  store: {
    description: 'a store member: the etcd-like key-value store, replicated by Raft',
    start: [startStore],
    uses: [...common, 'dataDir', 'store'],
  },
  apiserver: {
    description: 'an API server replica (stateless; any number)',
    start: [startApiServer],
    uses: [...common, 'apiserver'],
  },
  controllers: {
    description: 'the controller manager (leader-elected)',
    start: [startControllers],
    uses: [...common, 'controllers'],
  },
  scheduler: {
    description: 'the scheduler (leader-elected)',
    start: [startScheduler],
    uses: [...common],
  },
  agent: {
    description:
      'a node agent: registers the node --member (alias --node-name), runs its pods on containerd or the fake runtime, pod routes, service proxy and cluster DNS',
    start: [startAgent],
    uses: [...common, 'dataDir', 'agent', 'controllers.clusterCIDR', 'apiserver.serviceCIDR'],
    required: ['agent.nodeIP'],
    aliases: {
      nodeName: 'member',
      nats: 'nats.servers',
      runtime: 'agent.runtime',
      containerdSocket: 'agent.containerdSocket',
      nodeIp: 'agent.nodeIP',
      clusterDns: 'agent.clusterDNS',
    },
  },
};

const program = new Command('flotilla')
  .description('Flotilla control-plane and node processes')
  .showHelpAfterError();

for (const [name, component] of Object.entries(components)) {
  const cmd = program
    .command(name)
    .description(component.description)
    .option('-c, --config <file>', 'YAML config file');
  for (const s of settings.filter((x) =>
    component.uses.some((u) => x.path === u || x.path.startsWith(`${u}.`)),
  )) {
    const flag = flagName(s.path);
    const value =
      s.type === 'int' ? '<n>' : s.type === 'list' || s.type === 'url-list' ? '<a,b,...>' : '<value>';
    cmd.option(
      `${flag} ${value}`,
      `${s.description}${s.default !== undefined ? ` (default: ${String(s.default)})` : ''}`,
    );
  }
  for (const [alias, path] of Object.entries(component.aliases ?? {})) {
    const flag = `--${alias.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    cmd.option(`${flag} <value>`, `same as ${flagName(path)}`);
  }
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Record<string, unknown> = {};
    for (const [alias, path] of Object.entries(component.aliases ?? {})) {
      if (opts[alias] !== undefined) flags[path] = opts[alias];
    }
    for (const s of settings) {
      const key = flagName(s.path)
        .slice(2)
        .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (opts[key] !== undefined) flags[s.path] = opts[key];
    }
    let config: FlotillaConfig;
    try {
      config = loadConfig({
        file: opts.config as string | undefined,
        flags,
        required: ['member', ...(component.required ?? [])],
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        for (const p of err.problems) console.error(`flotilla ${name}: ${p}`);
        process.exit(2);
      }
      throw err;
    }
    const ctx = await processContext(config, name);
    const running: RunningComponent[] = [];
    for (const start of component.start) running.push(await start(ctx));
    exitOnSignals(async () => {
      for (const r of running.reverse()) await r.stop();
      await ctx.system.shutdown({ timeoutMs: 5_000 });
    }, ctx.log);
  });
}

program.parseAsync().catch((err: unknown) => {
  console.error(`flotilla: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
