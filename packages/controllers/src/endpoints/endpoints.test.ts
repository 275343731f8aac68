import {
  type EndpointSlice,
  type Endpoints,
  type Node,
  type Pod,
  type Service,
  withCondition,
} from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  endpointSlicesResource,
  endpointsResource,
  nodesResource,
  podsResource,
  servicesResource,
} from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { node, pod } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { EndpointsController } from './endpoints-controller.ts';
import { EndpointSliceController } from './endpointslice-controller.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

const service: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default', labels: { tier: 'fe' } },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
};

/** A pod of the service on n1 with an IP, ready or not. */
async function addPod(name: string, ip: string | undefined, ready: boolean): Promise<void> {
  const pods = h.api.resource<Pod>(podsResource);
  const p = await pods.create(
    pod(name, {
      labels: { app: 'web' },
      spec: {
        containers: [{ name: 'app', image: 'busybox:1.36', ports: [{ name: 'http', containerPort: 8080 }] }],
      },
    }),
  );
  await h.api.bind('default', name, 'n1');
  const bound = await pods.get(name);
  await pods.updateStatus({
    ...bound,
    status: {
      ...p.status,
      phase: 'Running',
      ...(ip === undefined ? {} : { podIP: ip, podIPs: [{ ip }] }),
      conditions: withCondition(bound.status?.conditions, {
        type: 'Ready',
        status: ready ? 'True' : 'False',
      }),
    },
  });
}

describe('Endpoints and EndpointSlice controllers', () => {
  it('list ready and not-ready pods with their resolved ports, and follow changes', async () => {
    h = new Harness();
    await h.api.resource<Node>(nodesResource).create(node('n1'));
    await addPod('a', '10.0.0.2', true);
    await addPod('b', '10.0.0.3', false);
    await addPod('c', undefined, true); // no address yet: left out
    await addPod('d', '10.0.0.1', true);
    await h.run(
      (ctx) => new EndpointsController(ctx),
      (ctx) => new EndpointSliceController(ctx, { maxEndpointsPerSlice: 2 }),
    );
    await h.api.resource<Service>(servicesResource).create(service);
    const eps = await waitFor('endpoints', async () => {
      const e = h.api.objects<Endpoints>(endpointsResource)[0];
      return e?.subsets?.[0]?.notReadyAddresses !== undefined ? e : undefined;
    });
    expect(eps.metadata.labels).toEqual({ tier: 'fe' });
    expect(eps.subsets).toHaveLength(1);
    expect(eps.subsets?.[0]?.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(eps.subsets?.[0]?.addresses?.map((a) => [a.ip, a.targetRef?.name, a.nodeName])).toEqual([
      ['10.0.0.1', 'd', 'n1'],
      ['10.0.0.2', 'a', 'n1'],
    ]);
    expect(eps.subsets?.[0]?.notReadyAddresses?.map((a) => a.ip)).toEqual(['10.0.0.3']);

    const slices = await waitFor('two slices', () => {
      const s = h.api.objects<EndpointSlice>(endpointSlicesResource);
      return s.length === 2 ? s.sort((x, y) => (x.metadata.name! < y.metadata.name! ? -1 : 1)) : undefined;
    });
    expect(slices.map((s) => s.metadata.name)).toEqual(['web-0', 'web-1']);
    expect(slices[0]?.metadata.labels).toMatchObject({ 'kubernetes.io/service-name': 'web' });
    expect(slices.flatMap((s) => s.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]))).toEqual([
      ['10.0.0.1', true],
      ['10.0.0.2', true],
      ['10.0.0.3', false],
    ]);

    // A terminating pod leaves the Endpoints and stays in the slices as terminating.
    await h.api.resource<Pod>(podsResource).delete('a');
    await waitFor('a gone from endpoints', () =>
      h.api
        .objects<Endpoints>(endpointsResource)[0]
        ?.subsets?.[0]?.addresses?.every((x) => x.targetRef?.name !== 'a'),
    );
    await waitFor('a terminating in slices', () =>
      h.api
        .objects<EndpointSlice>(endpointSlicesResource)
        .flatMap((s) => s.endpoints)
        .some(
          (e) =>
            e.targetRef?.name === 'a' && e.conditions?.terminating === true && e.conditions.ready === false,
        ),
    );

    await h.api.resource<Service>(servicesResource).delete('web');
    await waitFor(
      'cleaned up',
      () =>
        h.api.objects(endpointsResource).length === 0 && h.api.objects(endpointSlicesResource).length === 0,
    );
  });
});
