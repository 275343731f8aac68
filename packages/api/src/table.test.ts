import { describe, expect, it } from 'vitest';
import { resourceForKind } from './registry.ts';
import { podSummary, toTable } from './table.ts';
import { humanDuration } from './time.ts';
import type { Deployment } from './types/apps.ts';
import type { ContainerStatus, Event, Node, Pod, PodStatus, Service } from './types/core.ts';

const now = Date.UTC(2024, 4, 1, 12, 0, 0);
const ago = (seconds: number): string =>
  new Date(now - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const info = (apiVersion: string, kind: string) => {
  const r = resourceForKind(apiVersion, kind);
  if (r === undefined) throw new Error(`${kind} not registered`);
  return r;
};

function pod(status: PodStatus, extra: Partial<Pod['spec']> = {}, deleting = false): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web',
      creationTimestamp: ago(300),
      ...(deleting ? { deletionTimestamp: ago(0) } : {}),
    },
    spec: {
      containers: [
        { name: 'a', image: 'x' },
        { name: 'b', image: 'y' },
      ],
      ...extra,
    },
    status,
  };
}

const running = (name: string, ready = true): ContainerStatus => ({
  name,
  ready,
  restartCount: 0,
  image: 'x',
  imageID: '',
  state: { running: { startedAt: ago(100) } },
});

describe('pod STATUS, READY and RESTARTS as kubectl computes them', () => {
  it('Running with all containers ready', () => {
    expect(
      podSummary(pod({ phase: 'Running', containerStatuses: [running('a'), running('b')] }), now),
    ).toEqual({
      ready: '2/2',
      status: 'Running',
      restarts: '0',
    });
  });

  it('CrashLoopBackOff with restarts and the time since the last one', () => {
    const crashing: ContainerStatus = {
      name: 'b',
      ready: false,
      restartCount: 4,
      image: 'y',
      imageID: '',
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(45) } },
    };
    expect(podSummary(pod({ phase: 'Running', containerStatuses: [running('a'), crashing] }), now)).toEqual({
      ready: '1/2',
      status: 'CrashLoopBackOff',
      restarts: '4 (45s ago)',
    });
  });

  it('Init:N/M while init containers run, Init:<reason> when one fails', () => {
    const spec = {
      initContainers: [
        { name: 'i1', image: 'x' },
        { name: 'i2', image: 'x' },
      ],
    };
    const done: ContainerStatus = {
      name: 'i1',
      ready: false,
      restartCount: 0,
      image: 'x',
      imageID: '',
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
    };
    const waiting: ContainerStatus = {
      name: 'i2',
      ready: false,
      restartCount: 0,
      image: 'x',
      imageID: '',
      state: { waiting: { reason: 'PodInitializing' } },
    };
    expect(
      podSummary(pod({ phase: 'Pending', initContainerStatuses: [done, waiting] }, spec), now).status,
    ).toBe('Init:1/2');
    const failed: ContainerStatus = { ...waiting, state: { terminated: { exitCode: 2 } } };
    expect(
      podSummary(pod({ phase: 'Pending', initContainerStatuses: [done, failed] }, spec), now).status,
    ).toBe('Init:ExitCode:2');
    const pulling: ContainerStatus = { ...waiting, state: { waiting: { reason: 'ErrImagePull' } } };
    expect(
      podSummary(pod({ phase: 'Pending', initContainerStatuses: [done, pulling] }, spec), now).status,
    ).toBe('Init:ErrImagePull');
  });

  it('Completed, Terminating, and NotReady when one container completed and another runs', () => {
    const completed: ContainerStatus = {
      name: 'a',
      ready: false,
      restartCount: 0,
      image: 'x',
      imageID: '',
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
    };
    expect(
      podSummary(
        pod({ phase: 'Succeeded', containerStatuses: [completed, { ...completed, name: 'b' }] }),
        now,
      ).status,
    ).toBe('Completed');
    expect(
      podSummary(pod({ phase: 'Running', containerStatuses: [running('a')] }, {}, true), now).status,
    ).toBe('Terminating');
    // The last container status decides first; "Completed" with a running one is not completion.
    expect(
      podSummary(pod({ phase: 'Running', containerStatuses: [completed, running('b')] }), now).status,
    ).toBe('NotReady');
    expect(podSummary(pod({ phase: 'Pending' }), now)).toEqual({
      ready: '0/2',
      status: 'Pending',
      restarts: '0',
    });
  });
});

describe('tables', () => {
  it('prints pods with the wide columns and Metadata objects by default', () => {
    const p: Pod = {
      ...pod(
        {
          phase: 'Running',
          podIP: '10.244.1.5',
          podIPs: [{ ip: '10.244.1.5' }],
          containerStatuses: [running('a'), running('b')],
        },
        { nodeName: 'n1' },
      ),
      metadata: { name: 'web', namespace: 'shop', creationTimestamp: ago(300), labels: { app: 'web' } },
    };
    const table = toTable(info('v1', 'Pod'), [p], { nowMs: now });
    expect(table.columnDefinitions.map((c) => [c.name, c.priority])).toEqual([
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ]);
    expect(table.rows[0]?.cells).toEqual([
      'web',
      '2/2',
      'Running',
      '0',
      '5m',
      '10.244.1.5',
      'n1',
      '<none>',
      '<none>',
    ]);
    expect(table.rows[0]?.object).toEqual({
      apiVersion: 'meta.k8s.io/v1',
      kind: 'PartialObjectMetadata',
      metadata: p.metadata,
    });
    const narrow = toTable(info('v1', 'Pod'), [p], {
      nowMs: now,
      wide: false,
      includeObject: 'None',
      noHeaders: true,
    });
    expect(narrow.columnDefinitions).toEqual([]);
    expect(narrow.rows[0]).toEqual({ cells: ['web', '2/2', 'Running', '0', '5m'] });
  });

  it('prints deployments, services and nodes', () => {
    const d: Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', creationTimestamp: ago(3 * 3600 + 600) },
      spec: {
        replicas: 3,
        selector: {
          matchLabels: { app: 'web' },
          matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe', 'be'] }],
        },
        template: {
          spec: {
            containers: [
              { name: 'web', image: 'nginx:1.25' },
              { name: 'log', image: 'fluent' },
            ],
          },
        },
      },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    };
    expect(toTable(info('apps/v1', 'Deployment'), [d], { nowMs: now }).rows[0]?.cells).toEqual([
      'web',
      '2/3',
      3,
      2,
      '3h10m',
      'web,log',
      'nginx:1.25,fluent',
      'app=web,tier in (be,fe)',
    ]);
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', creationTimestamp: ago(3 * 86400) },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10'],
        ports: [
          { port: 80, nodePort: 30080, protocol: 'TCP' },
          { port: 53, protocol: 'UDP' },
        ],
        selector: { app: 'web' },
      },
    };
    expect(toTable(info('v1', 'Service'), [svc], { nowMs: now }).rows[0]?.cells).toEqual([
      'web',
      'NodePort',
      '10.96.0.10',
      '<none>',
      '80:30080/TCP,53/UDP',
      '3d',
      'app=web',
    ]);
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'n1',
        creationTimestamp: ago(400 * 86400),
        labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'etcd' },
      },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'Ready', status: 'False' }],
        addresses: [{ type: 'InternalIP', address: '192.168.1.10' }],
        nodeInfo: {
          kubeletVersion: 'v1.30.0-flotilla',
          osImage: 'Debian',
          kernelVersion: '6.1',
          containerRuntimeVersion: 'containerd://1.7',
        },
      },
    };
    expect(toTable(info('v1', 'Node'), [node], { nowMs: now }).rows[0]?.cells).toEqual([
      'n1',
      'NotReady,SchedulingDisabled',
      'control-plane,etcd',
      '400d',
      'v1.30.0-flotilla',
      '192.168.1.10',
      '<none>',
      'Debian',
      '6.1',
      'containerd://1.7',
    ]);
  });

  it('prints events with their object and count', () => {
    const e: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.17', namespace: 'shop' },
      involvedObject: { kind: 'Pod', name: 'web', fieldPath: 'spec.containers{web}' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container\n',
      type: 'Warning',
      source: { component: 'kubelet', host: 'n1' },
      firstTimestamp: ago(600),
      lastTimestamp: ago(30),
      count: 7,
    };
    expect(toTable(info('v1', 'Event'), [e], { nowMs: now }).rows[0]?.cells).toEqual([
      '30s',
      'Warning',
      'BackOff',
      'pod/web',
      'spec.containers{web}',
      'kubelet, n1',
      'Back-off restarting failed container',
      '10m',
      7,
      'web.17',
    ]);
  });
});

describe('human durations', () => {
  it.each([
    [-3000, '<invalid>'],
    [-900, '0s'],
    [59_000, '59s'],
    [119_000, '119s'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [3 * 3600_000 + 120_000, '3h2m'],
    [9 * 3600_000, '9h'],
    [50 * 3600_000, '2d2h'],
    [9 * 86400_000, '9d'],
    [800 * 86400_000, '2y70d'],
    [3000 * 86400_000, '8y'],
  ])('%d ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
