import { join } from 'node:path';
import { ActorSystem, createLogger, createRegistry, type Logger, type Registry } from '@flotilla/actor';
import { StoreMember } from '@flotilla/store';
import type { FlotillaConfig } from '../config/load.ts';

export interface RunningComponent {
  readonly name: string;
  stop(): Promise<void>;
}

export interface ProcessContext {
  readonly config: FlotillaConfig;
  readonly log: Logger;
  readonly registry: Registry;
  readonly system: ActorSystem;
}

/** The process's logger, registry and NATS connection, from the config. */
export async function processContext(config: FlotillaConfig, component: string): Promise<ProcessContext> {
  const log = createLogger({
    level: config.log.level,
    base: { cluster: config.cluster, member: config.member },
  });
  const registry = createRegistry({ member: config.member });
  const system = await ActorSystem.connect({
    servers: config.nats.servers,
    log,
    registry,
    prefix: 'flotilla',
    name: `flotilla-${component}-${config.member}`,
  });
  return { config, log, registry, system };
}

/** The store member: MVCC on LMDB replicated by Raft, served on NATS. */
export async function startStore(ctx: ProcessContext): Promise<RunningComponent & { member: StoreMember }> {
  const { config } = ctx;
  const member = await StoreMember.open({
    id: config.member,
    clusterId: config.cluster,
    dir: join(config.dataDir, 'store'),
    system: ctx.system,
    log: ctx.log,
    registry: ctx.registry,
    bootstrap: config.store.bootstrap.length > 0 ? config.store.bootstrap : undefined,
    raft: {
      tickMs: config.store.tickMs,
      electionTicks: config.store.electionTicks,
      snapshotEveryEntries: config.store.snapshotEveryEntries,
    },
    autoCompactionRetainRevisions: config.store.autoCompactionRetainRevisions,
  });
  await member.ready();
  ctx.log.info({ bootstrap: config.store.bootstrap }, 'store member serving');
  return { name: 'store', member, stop: () => member.stop() };
}
