import { parsePortRange, RangeAllocator, type Service, StatusError, serviceIPRange } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import {
  type AllocationState,
  dropTypeDependentFields,
  normalizeClusterIPs,
  ServiceAllocations,
} from './service-allocation.ts';

const ipRange = serviceIPRange('10.96.0.0/28'); // 14 addresses: 10.96.0.1 .. 10.96.0.14
const portRange = parsePortRange('30000-30003');

function fresh(): AllocationState {
  return {
    ips: new RangeAllocator(ipRange),
    ipsRevision: 0,
    ports: new RangeAllocator(portRange),
    portsRevision: 7,
  };
}

function service(spec: Service['spec'], name = 's'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}

const allocations = new ServiceAllocations(ipRange, portRange, () => 0);

function failure(run: () => unknown): { code: number; message: string } | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (!(err instanceof StatusError)) throw err;
    return { code: err.status.code, message: err.status.message ?? '' };
  }
}

describe('ServiceAllocations', () => {
  it('gives a new service a free cluster IP and node ports, guarded by the bitmaps it read', () => {
    const state = fresh();
    state.ips.allocate(0); // the kubernetes service
    const plan = allocations.planWith(
      state,
      undefined,
      service({ type: 'NodePort', ports: [{ port: 80 }, { port: 81 }] }),
    );
    expect(plan.service?.spec?.clusterIP).toBe('10.96.0.2');
    expect(plan.service?.spec?.clusterIPs).toEqual(['10.96.0.2']);
    expect(plan.service?.spec?.ports?.map((p) => p.nodePort)).toEqual([30000, 30001]);
    // One compare and one put per bitmap that changed, on the revision each was read at.
    expect(plan.compares.map((c) => (c.target === 'mod' ? c.modRevision : -1))).toEqual([0, 7]);
    expect(plan.ops).toHaveLength(2);
    expect(state.ips.used).toBe(2);
    expect(state.ports.used).toBe(2);
  });

  it('refuses a requested address that is taken or outside the range with 422', () => {
    const state = fresh();
    state.ips.allocate(4); // 10.96.0.5
    state.ports.allocate(2); // 30002
    expect(
      failure(() => allocations.planWith(state, undefined, service({ clusterIP: '10.96.0.5' }))),
    ).toEqual({
      code: 422,
      message: expect.stringContaining(
        'spec.clusterIPs[0]: Invalid value: "10.96.0.5": provided IP is already allocated',
      ),
    });
    expect(
      failure(() => allocations.planWith(fresh(), undefined, service({ clusterIP: '10.97.0.5' })))?.message,
    ).toContain('provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/28');
    const taken = failure(() =>
      allocations.planWith(
        state,
        undefined,
        service({ type: 'NodePort', ports: [{ port: 80, nodePort: 30002 }] }),
      ),
    );
    expect(taken?.message).toContain(
      'spec.ports[0].nodePort: Invalid value: 30002: provided port is already allocated',
    );
    const outside = failure(() =>
      allocations.planWith(
        fresh(),
        undefined,
        service({ type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }),
      ),
    );
    expect(outside?.message).toContain('The range of valid ports is 30000-30003');
  });

  it('answers 500 when a range is full', () => {
    const state = fresh();
    for (let i = 0; i < portRange.size; i++) state.ports.allocate(i);
    const full = failure(() =>
      allocations.planWith(state, undefined, service({ type: 'NodePort', ports: [{ port: 1 }] })),
    );
    expect(full?.code).toBe(500);
  });

  it('releases what a deleted or changed service held, and keeps what it still uses', () => {
    const state = fresh();
    const created = allocations.planWith(
      state,
      undefined,
      service({ type: 'NodePort', ports: [{ port: 80 }, { port: 81 }] }),
    ).service as Service;
    const ports = created.spec?.ports ?? [];
    // Drop one port: its node port goes back, the other stays, the IP stays.
    const fewer = service({ ...created.spec, ports: [ports[0] as NonNullable<(typeof ports)[0]>] });
    allocations.planWith(state, created, fewer);
    expect(state.ports.used).toBe(1);
    expect(state.ips.used).toBe(1);
    // Deleting the service frees everything it held.
    allocations.planWith(state, fewer, undefined);
    expect(state.ips.used).toBe(0);
    expect(state.ports.used).toBe(0);
  });

  it('shares one node port between the protocols of one service port', () => {
    const state = fresh();
    const plan = allocations.planWith(
      state,
      undefined,
      service({
        type: 'NodePort',
        ports: [
          { port: 53, protocol: 'TCP', nodePort: 30003 },
          { port: 53, protocol: 'UDP', nodePort: 30003 },
        ],
      }),
    );
    expect(plan.service?.spec?.ports?.map((p) => p.nodePort)).toEqual([30003, 30003]);
    expect(state.ports.used).toBe(1);
  });

  it('leaves headless and ExternalName services out of the IP range', () => {
    const state = fresh();
    const plan = allocations.planWith(
      state,
      undefined,
      service({ clusterIP: 'None', ports: [{ port: 80 }] }),
    );
    expect(plan.ops).toEqual([]);
    expect(plan.service?.spec?.clusterIP).toBe('None');
    allocations.planWith(state, undefined, service({ type: 'ExternalName', externalName: 'example.com' }));
    expect(state.ips.used).toBe(0);
  });
});

describe('update normalization', () => {
  const stored = service({
    type: 'NodePort',
    clusterIP: '10.96.0.3',
    clusterIPs: ['10.96.0.3'],
    ports: [{ port: 80, nodePort: 30001 }],
  });

  it('moves clusterIPs with a changed clusterIP, so validation sees the change meant', () => {
    const next = normalizeClusterIPs(service({ ...stored.spec, clusterIP: '10.96.0.9' }), stored);
    expect(next.spec?.clusterIPs).toEqual(['10.96.0.9']);
    const cleared = normalizeClusterIPs(service({ ...stored.spec, clusterIP: '' }), stored);
    expect(cleared.spec?.clusterIPs).toBeUndefined();
    const kept = normalizeClusterIPs(service({ ...stored.spec, clusterIPs: [] }), stored);
    expect(kept.spec?.clusterIPs).toEqual(['10.96.0.3']);
  });

  it('drops the node ports of a service that became ClusterIP', () => {
    const next = dropTypeDependentFields(service({ ...stored.spec, type: 'ClusterIP' }), stored);
    expect(next.spec?.ports).toEqual([{ port: 80 }]);
    const still = dropTypeDependentFields(service({ ...stored.spec }), stored);
    expect(still).toEqual(service({ ...stored.spec }));
  });
});
