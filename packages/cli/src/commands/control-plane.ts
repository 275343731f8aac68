import { NatsApiClient } from '@flotilla/api';
import { ApiServer, defaultConfig as apiServerDefaults } from '@flotilla/apiserver';
import { ControllerManager, natsNamespaceFinalizer, SchedulerServer } from '@flotilla/controllers';
import type { ProcessContext, RunningComponent } from './store.ts';

/** An API server replica: the Kubernetes REST API on HTTP, and the same API on NATS. */
export async function startApiServer(ctx: ProcessContext): Promise<RunningComponent> {
  const { config } = ctx;
  const [host, portText] = splitAddress(config.apiserver.listen);
  const server = await ApiServer.start(
    {
      ...apiServerDefaults,
      clusterId: config.cluster,
      nats: config.nats.servers,
      host,
      port: Number(portText),
      serviceClusterIPRange: config.apiserver.serviceCIDR,
      logLevel: config.log.level,
    },
    { system: ctx.system, log: ctx.log.child({ component: 'apiserver' }), registry: ctx.registry },
  );
  ctx.log.info({ url: server.url }, 'API server serving');
  return { name: 'apiserver', stop: () => server.stop() };
}

/** The controller manager: every controller, working only while it holds its Lease. */
export async function startControllers(ctx: ProcessContext): Promise<RunningComponent> {
  const { config } = ctx;
  const manager = new ControllerManager({
    client: new NatsApiClient({ system: ctx.system, clusterId: config.cluster }),
    log: ctx.log.child({ component: 'controller-manager' }),
    registry: ctx.registry,
    nodeIpam: {
      clusterCIDR: config.controllers.clusterCIDR,
      nodeMaskSize: config.controllers.nodeCIDRMaskSize,
    },
    finalizeNamespace: natsNamespaceFinalizer(ctx.system, config.cluster),
  });
  manager.start();
  return { name: 'controllers', stop: () => manager.stop() };
}

/** The scheduler, working only while it holds its Lease. */
export async function startScheduler(ctx: ProcessContext): Promise<RunningComponent> {
  const server = new SchedulerServer({
    client: new NatsApiClient({ system: ctx.system, clusterId: ctx.config.cluster }),
    log: ctx.log.child({ component: 'scheduler' }),
    registry: ctx.registry,
  });
  server.start();
  return { name: 'scheduler', stop: () => server.stop() };
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}
