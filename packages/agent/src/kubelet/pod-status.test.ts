import type { Container, Pod, PodStatus } from '@flotilla/api';
import { describe, expect, test } from 'vitest';
import { observed, observedContainer, sandbox, testPod } from '../../test/fixtures/observed.ts';
import type { ObservedPod } from './observed.ts';
import { computePodStatus, containerKey, type StatusInput, type WaitingReason } from './pod-status.ts';

const web: Container = { name: 'web', image: 'img:1' };
const side: Container = { name: 'side', image: 'img:1' };
const init1: Container = { name: 'init1', image: 'img:1' };
const t0 = Date.parse('2026-01-01T00:00:00Z');

function status(
  pod: Pod,
  o: ObservedPod,
  extra: Partial<StatusInput> & { waiting?: Map<string, WaitingReason> } = {},
): PodStatus {
  return computePodStatus({
    pod,
    observed: o,
    waiting: new Map(),
    probes: () => ({ ready: true, started: true }),
    runtimeName: 'containerd',
    hostIP: '192.0.2.2',
    podIP: o.sandboxes.find((s) => s.state === 'ready')?.ip ?? '',
    nowMs: t0,
    terminal: false,
    terminalReason: undefined,
    ...extra,
  });
}

const cond = (s: PodStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('computePodStatus', () => {
  test('a new pod: Pending, ContainerCreating, start time set, not ready', () => {
    const s = status(testPod({ containers: [web] }), observed([], []));
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses?.[0]).toMatchObject({
      name: 'web',
      state: { waiting: { reason: 'ContainerCreating' } },
      ready: false,
      restartCount: 0,
      image: 'img:1',
      started: false,
    });
    expect(s.startTime).toBe('2026-01-01T00:00:00Z');
    expect(s.qosClass).toBe('BestEffort');
    expect(cond(s, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [web]',
    });
    expect(s.podIP).toBeUndefined();
  });

  test('all running and ready: Running, Ready, IPs, container IDs with the runtime scheme', () => {
    const s = status(
      testPod({ containers: [web, side] }),
      observed(
        [sandbox('s1', 'ready')],
        [observedContainer(web, 'running'), observedContainer(side, 'running')],
      ),
    );
    expect(s.phase).toBe('Running');
    expect(s.podIP).toBe('10.0.0.2');
    expect(s.podIPs).toEqual([{ ip: '10.0.0.2' }]);
    expect(s.hostIP).toBe('192.0.2.2');
    expect(s.containerStatuses?.map((c) => [c.name, c.ready, c.containerID])).toEqual([
      ['web', true, 'containerd://web-0'],
      ['side', true, 'containerd://side-0'],
    ]);
    for (const type of ['Initialized', 'ContainersReady', 'Ready', 'PodScheduled'])
      expect(cond(s, type)?.status).toBe('True');
  });

  test('readiness comes from the probes; not started means not ready', () => {
    const o = observed([sandbox('s1', 'ready')], [observedContainer(web, 'running')]);
    const s = status(testPod({ containers: [web] }), o, { probes: () => ({ ready: false, started: false }) });
    expect(s.phase).toBe('Running');
    expect(s.containerStatuses?.[0]).toMatchObject({ ready: false, started: false });
    expect(cond(s, 'ContainersReady')?.status).toBe('False');
  });

  test('in CrashLoopBackOff: waiting with the reason, the exit as lastState, phase Running', () => {
    const exited = observedContainer(web, 'exited', {
      exitCode: 2,
      restartCount: 3,
      reason: '',
      message: '',
    });
    const waiting = new Map([
      [
        containerKey('regular', 'web'),
        { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=web' },
      ],
    ]);
    const s = status(testPod({ containers: [web] }), observed([sandbox('s1', 'ready')], [exited]), {
      waiting,
    });
    expect(s.phase).toBe('Running');
    expect(s.containerStatuses?.[0]).toMatchObject({
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 2, reason: 'Error', containerID: 'containerd://web-3' } },
      restartCount: 3,
    });
  });

  test('running after restarts: lastState is the previous instance; OOMKilled and termination messages show', () => {
    const prev = observedContainer(web, 'exited', {
      restartCount: 0,
      exitCode: 137,
      reason: 'OOMKilled',
      terminationMessage: 'out of memory',
    });
    const cur = observedContainer(web, 'running', { restartCount: 1 });
    const s = status(testPod({ containers: [web] }), observed([sandbox('s1', 'ready')], [prev, cur]));
    expect(s.containerStatuses?.[0]?.restartCount).toBe(1);
    expect(s.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({
      exitCode: 137,
      reason: 'OOMKilled',
      message: 'out of memory',
    });
    expect(s.containerStatuses?.[0]?.state?.running?.startedAt).toBeDefined();
  });

  test('phases of finished pods follow restartPolicy', () => {
    const s1 = [sandbox('s1', 'ready')];
    const ok = observedContainer(web, 'exited', { exitCode: 0 });
    const bad = observedContainer(side, 'exited', { exitCode: 1 });
    const phase = (policy: 'Always' | 'OnFailure' | 'Never', cs = [ok, bad]) =>
      status(testPod({ restartPolicy: policy, containers: [web, side] }), observed(s1, cs)).phase;
    expect(phase('Never')).toBe('Failed');
    expect(phase('OnFailure')).toBe('Running');
    expect(phase('Always')).toBe('Running');
    expect(phase('Never', [ok, observedContainer(side, 'exited', { exitCode: 0 })])).toBe('Succeeded');
    expect(phase('OnFailure', [ok, observedContainer(side, 'exited', { exitCode: 0 })])).toBe('Succeeded');
    const done = status(testPod({ restartPolicy: 'Never', containers: [web] }), observed(s1, [ok]));
    expect(cond(done, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  test('a terminated pod (deleted) is Succeeded or Failed whatever its restartPolicy; a finished pod stays finished', () => {
    const s1 = [sandbox('s1', 'notready')];
    const killed = status(
      testPod({ containers: [web] }),
      observed(s1, [observedContainer(web, 'exited', { exitCode: 137 })]),
      { terminal: true },
    );
    expect(killed.phase).toBe('Failed');
    const clean = status(
      testPod({ containers: [web] }),
      observed(s1, [observedContainer(web, 'exited', { exitCode: 0 })]),
      { terminal: true },
    );
    expect(clean.phase).toBe('Succeeded');
    const sticky = status(testPod({ containers: [web] }, {}), observed([], []));
    expect(sticky.phase).toBe('Pending');
    const withPrevious = status(
      { ...testPod({ containers: [web] }), status: { phase: 'Succeeded' } },
      observed([], []),
    );
    expect(withPrevious.phase).toBe('Succeeded');
  });

  test('init containers: PodInitializing, Initialized condition, Failed under Never', () => {
    const pod = testPod({ initContainers: [init1], containers: [web] });
    const s1 = [sandbox('s1', 'ready')];
    const running = status(pod, observed(s1, [observedContainer(init1, 'running', { kind: 'init' })]));
    expect(running.phase).toBe('Pending');
    expect(running.containerStatuses?.[0]?.state?.waiting?.reason).toBe('PodInitializing');
    expect(cond(running, 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [init1]',
    });
    const done = status(
      pod,
      observed(s1, [observedContainer(init1, 'exited', { kind: 'init' }), observedContainer(web, 'running')]),
    );
    expect(done.phase).toBe('Running');
    expect(cond(done, 'Initialized')?.status).toBe('True');
    expect(done.initContainerStatuses?.[0]?.state?.terminated?.reason).toBe('Completed');
    const failed = status(
      testPod({ restartPolicy: 'Never', initContainers: [init1], containers: [web] }),
      observed(s1, [observedContainer(init1, 'exited', { kind: 'init', exitCode: 1 })]),
    );
    expect(failed.phase).toBe('Failed');
  });

  test('conditions keep their transition time while unchanged; a deadline makes the pod Failed with its reason', () => {
    const o = observed([sandbox('s1', 'ready')], [observedContainer(web, 'running')]);
    const first = status(testPod({ containers: [web] }), o);
    const later = status({ ...testPod({ containers: [web] }), status: first }, o, { nowMs: t0 + 60_000 });
    expect(later).toEqual(first);
    const notReady = status({ ...testPod({ containers: [web] }), status: first }, o, {
      nowMs: t0 + 60_000,
      probes: () => ({ ready: false, started: true }),
    });
    expect(cond(notReady, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:01:00Z');
    expect(cond(notReady, 'PodScheduled')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const deadline = status(testPod({ containers: [web] }), o, {
      terminal: true,
      terminalReason: {
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
      },
    });
    expect(deadline).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded' });
  });
});
