/**
 * The API client a leader's controllers write through: every write first checks that the
 * term is still current (lease held and renewed within the deadline, read from the clock
 * at that moment), so no write leaves this process once the term has ended, even if the
 * timer that ends it fires late or a worker is still finishing a reconcile.
 */
import type { ApiClient, KubeObject, ResourceClient, ResourceRef } from '@flotilla/api';
import { NotLeaderError } from '../errors.ts';
import type { LeaderTerm } from './leader-elector.ts';

export function leaderGuardedClient(client: ApiClient, term: LeaderTerm, lease: string): ApiClient {
  const check = (): void => {
    if (!term.isCurrent()) throw new NotLeaderError(lease);
  };
  return {
    resource<T extends KubeObject>(ref: ResourceRef): ResourceClient<T> {
      const inner = client.resource<T>(ref);
      return {
        ref: inner.ref,
        get: (name, namespace) => inner.get(name, namespace),
        list: (options) => inner.list(options),
        watch: (options) => inner.watch(options),
        create: async (object, options) => {
          check();
          return inner.create(object, options);
        },
        update: async (object, options) => {
          check();
          return inner.update(object, options);
        },
        updateStatus: async (object, options) => {
          check();
          return inner.updateStatus(object, options);
        },
        patch: async (name, patchType, patch, options) => {
          check();
          return inner.patch(name, patchType, patch, options);
        },
        delete: async (name, options) => {
          check();
          return inner.delete(name, options);
        },
      };
    },
    bind: async (namespace, pod, node) => {
      check();
      return client.bind(namespace, pod, node);
    },
    logs: (namespace, pod, options) => client.logs(namespace, pod, options),
  };
}
