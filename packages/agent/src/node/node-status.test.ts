import { describe, expect, test } from 'vitest';
import type { MachineInfo } from './machine-info.ts';
import { memTotalBytes, osPrettyName } from './machine-info.ts';
import { buildNodeStatus } from './node-status.ts';

const machine: MachineInfo = {
  cpuCores: 2,
  memoryBytes: 24 * 1024 ** 3,
  ephemeralStorageBytes: 100 * 1024 ** 3,
  kernelVersion: '6.1.0',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  operatingSystem: 'linux',
  architecture: 'amd64',
  machineID: 'm',
  systemUUID: 'u',
  bootID: 'b',
  hostname: 'host-1',
};
const runtime = { runtimeName: 'containerd', runtimeVersion: '1.6.20', runtimeApiVersion: 'v1' };
const up = [
  { type: 'RuntimeReady', status: true, reason: '', message: '' },
  { type: 'NetworkReady', status: true, reason: '', message: '' },
];
const t0 = Date.parse('2026-01-01T00:00:00Z');

describe('buildNodeStatus', () => {
  test('capacity from the machine, allocatable minus reservations and eviction, 110 pods', () => {
    const s = buildNodeStatus({
      machine,
      runtime,
      runtimeConditions: up,
      internalIP: '192.0.2.2',
      nowMs: t0,
      reserved: { cpuMilli: 100, memoryBytes: 0 },
    });
    expect(s.capacity).toEqual({
      cpu: '2',
      memory: `${24 * 1024 * 1024}Ki`,
      pods: '110',
      'ephemeral-storage': `${100 * 1024 * 1024}Ki`,
    });
    expect(s.allocatable).toMatchObject({
      cpu: '1900m',
      memory: `${24 * 1024 * 1024 - 100 * 1024}Ki`,
      pods: '110',
    });
    expect(s.addresses).toEqual([
      { type: 'InternalIP', address: '192.0.2.2' },
      { type: 'Hostname', address: 'host-1' },
    ]);
    expect(s.nodeInfo).toMatchObject({
      kernelVersion: '6.1.0',
      containerRuntimeVersion: 'containerd://1.6.20',
      osImage: 'Debian GNU/Linux 12 (bookworm)',
      architecture: 'amd64',
    });
  });

  test('Ready follows the runtime; transition times are kept while a condition holds', () => {
    const first = buildNodeStatus({
      machine,
      runtime,
      runtimeConditions: up,
      internalIP: '192.0.2.2',
      nowMs: t0,
    });
    expect(first.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID'],
      ['Ready', 'True', 'KubeletReady'],
    ]);
    const netDown = [
      up[0]!,
      {
        type: 'NetworkReady',
        status: false,
        reason: 'NetworkPluginNotReady',
        message: 'cni config uninitialized',
      },
    ];
    const later = buildNodeStatus({
      machine,
      runtime,
      runtimeConditions: netDown,
      internalIP: '192.0.2.2',
      nowMs: t0 + 10_000,
      previous: first,
    });
    const ready = later.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({
      status: 'False',
      reason: 'KubeletNotReady',
      lastTransitionTime: '2026-01-01T00:00:10Z',
      lastHeartbeatTime: '2026-01-01T00:00:10Z',
    });
    expect(ready?.message).toContain('NetworkReady=false reason:NetworkPluginNotReady');
    expect(later.conditions?.find((c) => c.type === 'MemoryPressure')?.lastTransitionTime).toBe(
      '2026-01-01T00:00:00Z',
    );
  });

  test('machine facts are read from /proc and /etc the way they are written there', () => {
    expect(memTotalBytes('MemTotal:       24585672 kB\nMemFree: 1 kB\n')).toBe(24585672 * 1024);
    expect(osPrettyName('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe(
      'Debian GNU/Linux 12 (bookworm)',
    );
  });
});
