import type { Container } from '@flotilla/api';
import { describe, expect, test } from 'vitest';
import { linuxResources, oomScoreAdj } from './resources.ts';

const gi = 1024 ** 3;

describe('linuxResources', () => {
  test('requests become shares, limits a CFS quota and a memory limit', () => {
    const c: Container = {
      name: 'c',
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1500m', memory: '512Mi' } },
    };
    expect(linuxResources(c, 'Burstable', 8 * gi)).toEqual({
      cpuPeriod: 100_000,
      cpuQuota: 150_000,
      cpuShares: 256,
      memoryLimitBytes: 512 * 1024 ** 2,
      oomScoreAdj: 1000 - Math.floor((1000 * 256 * 1024 ** 2) / (8 * gi)),
    });
  });

  test('no resources: minimum shares, no quota, no limit, BestEffort OOM score', () => {
    expect(linuxResources({ name: 'c' }, 'BestEffort', 8 * gi)).toEqual({
      cpuPeriod: 100_000,
      cpuQuota: 0,
      cpuShares: 2,
      memoryLimitBytes: 0,
      oomScoreAdj: 1000,
    });
  });

  test('a limit alone stands for the request; tiny values are clamped to what cgroups accept', () => {
    const r = linuxResources({ name: 'c', resources: { limits: { cpu: '1m' } } }, 'Burstable', gi);
    expect(r.cpuShares).toBe(2);
    expect(r.cpuQuota).toBe(1_000);
  });
});

describe('oomScoreAdj', () => {
  test('per QoS class, Burstable strictly between the other two', () => {
    expect(oomScoreAdj('Guaranteed', 0, gi)).toBe(-997);
    expect(oomScoreAdj('BestEffort', 0, gi)).toBe(1000);
    expect(oomScoreAdj('Burstable', 0, gi)).toBe(999);
    expect(oomScoreAdj('Burstable', 2 * gi, gi)).toBe(3);
    expect(oomScoreAdj('Burstable', gi / 2, gi)).toBe(500);
  });
});
