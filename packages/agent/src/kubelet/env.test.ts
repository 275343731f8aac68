import type { Container, Pod } from '@flotilla/api';
import { describe, expect, test } from 'vitest';
import { ContainerConfigError } from '../errors.ts';
import { containerEnv, type EnvContext, expandVars } from './env.ts';
import { InMemoryObjectLookup } from './pod-source.ts';

describe('expandVars', () => {
  const vars: Record<string, string> = { A: 'alpha', B: 'beta', EMPTY: '' };
  const lookup = (n: string) => vars[n];
  test.each([
    ['$(A)', 'alpha'],
    ['x-$(A)-$(B)-y', 'x-alpha-beta-y'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$alpha'],
    ['$(A', '$(A'],
    ['$A', '$A'],
    ['cost: 5$', 'cost: 5$'],
    ['$()', '$()'],
    ['$(EMPTY)x', 'x'],
  ])('%s → %s', (input, want) => {
    expect(expandVars(input, lookup)).toBe(want);
  });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

function setup(): { lookup: InMemoryObjectLookup; ctx: EnvContext; pod: Pod } {
  const lookup = new InMemoryObjectLookup();
  lookup.putConfigMap({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cm', namespace: 'ns' },
    data: { LEVEL: 'debug', 'bad key': 'skipped', HOST: 'db' },
  });
  lookup.putSecret({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'ns' },
    data: { PASSWORD: b64('hunter2') },
  });
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'web' } },
    spec: { nodeName: 'n1', containers: [] },
  };
  const ctx: EnvContext = {
    lookup,
    nodeName: 'n1',
    hostIP: '192.0.2.2',
    podIP: '10.1.0.5',
    podIPs: ['10.1.0.5'],
    nodeAllocatable: { cpuMilli: 2000, memoryBytes: 4 * 1024 ** 3 },
  };
  return { lookup, ctx, pod };
}

describe('containerEnv', () => {
  test('envFrom in order with prefixes, then env in order; later wins; values expand earlier ones', async () => {
    const { ctx, pod } = setup();
    const c: Container = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'cm' } }, { prefix: 'S_', secretRef: { name: 's' } }],
      env: [
        { name: 'LEVEL', value: 'info' },
        { name: 'URL', value: 'postgres://$(HOST)/x?pw=$(S_PASSWORD)' },
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'PASSWORD' } } },
      ],
    };
    const env = Object.fromEntries((await containerEnv(pod, c, ctx)).map((e) => [e.name, e.value]));
    expect(env).toEqual({
      LEVEL: 'info',
      HOST: 'db',
      S_PASSWORD: 'hunter2',
      URL: 'postgres://db/x?pw=hunter2',
      NAME: 'p',
      APP: 'web',
      IP: '10.1.0.5',
      HOST_IP: '192.0.2.2',
      PW: 'hunter2',
    });
  });

  test('missing sources fail as kubelet words it, unless optional', async () => {
    const { ctx, pod } = setup();
    const fail = (env: Container['env'], envFrom?: Container['envFrom']) =>
      containerEnv(pod, { name: 'c', env, ...(envFrom === undefined ? {} : { envFrom }) }, ctx);
    await expect(fail([], [{ configMapRef: { name: 'nope' } }])).rejects.toThrow(
      new ContainerConfigError('configmap "nope" not found'),
    );
    await expect(fail([], [{ secretRef: { name: 'nope' } }])).rejects.toThrow('secret "nope" not found');
    await expect(
      fail([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nokey' } } }]),
    ).rejects.toThrow("couldn't find key nokey in ConfigMap ns/cm");
    await expect(
      fail([{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'nokey' } } }]),
    ).rejects.toThrow("couldn't find key nokey in Secret ns/s");
    const ok = await fail(
      [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nokey', optional: true } } }],
      [{ configMapRef: { name: 'nope', optional: true } }],
    );
    expect(ok).toEqual([]);
  });

  test('resourceFieldRef: divisor, rounding up, node allocatable for unset limits', async () => {
    const { ctx, pod } = setup();
    const c: Container = {
      name: 'c',
      resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      env: [
        { name: 'REQ_CPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
        { name: 'REQ_CPU_CORES', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
        {
          name: 'LIM_MEM_MI',
          valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } },
        },
        { name: 'LIM_CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      ],
    };
    const env = Object.fromEntries((await containerEnv(pod, c, ctx)).map((e) => [e.name, e.value]));
    expect(env).toEqual({ REQ_CPU: '250', REQ_CPU_CORES: '1', LIM_MEM_MI: '128', LIM_CPU: '2' });
  });
});
