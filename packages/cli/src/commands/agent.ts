import { join } from 'node:path';
import { NodeAgent } from '@flotilla/agent/node-agent';
import { NatsApiClient } from '@flotilla/api';
import type { ProcessContext, RunningComponent } from './store.ts';

/**
 * The node agent: registers the node named `member`, runs the pods bound to it on
 * containerd (or the fake runtime), and keeps its part of the cluster network. SIGTERM
 * stops it gracefully: pods keep running and the next start adopts them.
 */
export async function startAgent(ctx: ProcessContext): Promise<RunningComponent> {
  const { config } = ctx;
  const agent = new NodeAgent({
    client: new NatsApiClient({ system: ctx.system, clusterId: config.cluster }),
    system: ctx.system,
    clusterId: config.cluster,
    nodeName: config.member,
    nodeIP: config.agent.nodeIP,
    runtime: config.agent.runtime,
    dataDir: join(config.dataDir, 'agent', config.member),
    ...(config.agent.containerdSocket === '' ? {} : { containerdSocket: config.agent.containerdSocket }),
    clusterDns: { serviceIP: config.agent.clusterDNS, domain: config.agent.clusterDomain },
    ...(config.agent.runtime === 'containerd'
      ? {
          network: {
            clusterCIDR: config.controllers.clusterCIDR,
            serviceCIDR: config.apiserver.serviceCIDR,
          },
        }
      : {}),
    leaseRenewIntervalMs: config.agent.leaseRenewIntervalMs,
    logger: ctx.log,
    registry: ctx.registry,
  });
  await agent.start();
  return { name: 'agent', stop: () => agent.stop() };
}
