/**
 * A NamespaceFinalizer that PUTs `namespaces/<name>/finalize` as an API request over NATS
 * (ApiProtocol's update with the subresource), for processes that have an ActorSystem:
 * ResourceClient has no verb for that subresource.
 */
import type { ActorSystem } from '@flotilla/actor';
import { type ApiProtocol, apiActorName, type Namespace } from '@flotilla/api';
import type { NamespaceFinalizer } from './namespace-controller.ts';

export function natsNamespaceFinalizer(
  system: ActorSystem,
  clusterId: string,
  timeoutMs = 10_000,
): NamespaceFinalizer {
  const api = system.ref<ApiProtocol>(apiActorName(clusterId));
  return async (ns) =>
    (await api.ask(
      'update',
      {
        group: '',
        version: 'v1',
        resource: 'namespaces',
        name: ns.metadata.name ?? '',
        subresource: 'finalize',
        object: ns,
      },
      // A write goes out once per attempt, as NatsApiClient sends writes.
      { timeoutMs, attemptTimeoutMs: timeoutMs },
    )) as Namespace;
}
