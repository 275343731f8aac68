/**
 * What every cluster has from the start, created by whichever replica gets there first
 * (the others find it there): the namespaces `default`, `kube-system`, `kube-public` and
 * `kube-node-lease`, and the `kubernetes` Service in `default` on the first address of the
 * service range, as kube-apiserver's bootstrap controller creates them.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces
 */
import type { KubeObject, Namespace, Service } from '@flotilla/api';
import { findResource, isAlreadyExists, isInvalid, type ResourceInfo } from '@flotilla/api';
import type { RegistryContext } from './context.ts';
import { createObject } from './writes.ts';

export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

const namespaces = findResource('', 'v1', 'namespaces') as ResourceInfo;
const services = findResource('', 'v1', 'services') as ResourceInfo;

async function ensure(
  ctx: RegistryContext,
  info: ResourceInfo,
  namespace: string | undefined,
  object: KubeObject,
) {
  try {
    await createObject(ctx, { info, namespace }, object, {});
  } catch (err) {
    // Another replica made it first (for the Service: and took its address).
    if (isAlreadyExists(err) || (info === services && isInvalid(err))) return;
    throw err;
  }
}

/** Creates what is missing; throws (and is retried by the caller) while the store is unreachable. */
export async function bootstrap(ctx: RegistryContext, apiPort: number): Promise<void> {
  for (const name of systemNamespaces) {
    const ns: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
    await ensure(ctx, namespaces, undefined, ns);
  }
  const kubernetes: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'kubernetes',
      namespace: 'default',
      labels: { component: 'apiserver', provider: 'kubernetes' },
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: ctx.allocations.firstIP,
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiPort }],
      sessionAffinity: 'None',
    },
  };
  await ensure(ctx, services, 'default', kubernetes);
}
