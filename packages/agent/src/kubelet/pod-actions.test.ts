import type { Container } from '@flotilla/api';
import { describe, expect, test } from 'vitest';
import { observed, observedContainer, sandbox, testPod } from '../../test/fixtures/observed.ts';
import { computePodActions, shouldStart } from './pod-actions.ts';

const web: Container = { name: 'web', image: 'img:1' };
const side: Container = { name: 'side', image: 'img:1' };
const init1: Container = { name: 'init1', image: 'img:1' };
const init2: Container = { name: 'init2', image: 'img:1' };
const none = new Map();

describe('computePodActions', () => {
  test('a new pod: create the first sandbox and start every container', () => {
    const a = computePodActions(testPod({ containers: [web, side] }), observed([], []), none);
    expect(a).toMatchObject({ createSandbox: true, attempt: 0, initToStart: undefined });
    expect(a.containersToStart.map((c) => c.name)).toEqual(['web', 'side']);
  });

  test('with init containers, only the first one starts with the sandbox', () => {
    const a = computePodActions(
      testPod({ initContainers: [init1, init2], containers: [web] }),
      observed([], []),
      none,
    );
    expect(a.createSandbox).toBe(true);
    expect(a.initToStart?.name).toBe('init1');
    expect(a.containersToStart).toEqual([]);
  });

  test('init containers run one at a time, in order; regular containers wait for all of them', () => {
    const pod = testPod({ initContainers: [init1, init2], containers: [web] });
    const s = [sandbox('s1', 'ready')];
    const running = computePodActions(
      pod,
      observed(s, [observedContainer(init1, 'running', { kind: 'init' })]),
      none,
    );
    expect(running).toMatchObject({ createSandbox: false, initToStart: undefined, containersToStart: [] });
    const firstDone = computePodActions(
      pod,
      observed(s, [observedContainer(init1, 'exited', { kind: 'init' })]),
      none,
    );
    expect(firstDone.initToStart?.name).toBe('init2');
    const allDone = computePodActions(
      pod,
      observed(s, [
        observedContainer(init1, 'exited', { kind: 'init' }),
        observedContainer(init2, 'exited', { kind: 'init' }),
      ]),
      none,
    );
    expect(allDone.initToStart).toBeUndefined();
    expect(allDone.containersToStart.map((c) => c.name)).toEqual(['web']);
  });

  test('a failed init container is retried, unless restartPolicy is Never: then the pod has failed', () => {
    const failed = observedContainer(init1, 'exited', { kind: 'init', exitCode: 2 });
    const s = [sandbox('s1', 'ready')];
    const retry = computePodActions(
      testPod({ initContainers: [init1], containers: [web] }),
      observed(s, [failed]),
      none,
    );
    expect(retry.initToStart?.name).toBe('init1');
    const never = computePodActions(
      testPod({ restartPolicy: 'Never', initContainers: [init1], containers: [web] }),
      observed(s, [failed]),
      none,
    );
    expect(never).toMatchObject({ initFailed: true, killPod: true, initToStart: undefined });
  });

  test('running containers are kept; exited ones restart per restartPolicy', () => {
    const s = [sandbox('s1', 'ready')];
    const ok = observedContainer(web, 'exited', { exitCode: 0 });
    const bad = observedContainer(side, 'exited', { exitCode: 1 });
    const names = (policy: 'Always' | 'OnFailure' | 'Never') =>
      computePodActions(
        testPod({ restartPolicy: policy, containers: [web, side] }),
        observed(s, [ok, bad]),
        none,
      ).containersToStart.map((c) => c.name);
    expect(names('Always')).toEqual(['web', 'side']);
    expect(names('OnFailure')).toEqual(['side']);
    expect(names('Never')).toEqual([]);
    const keep = computePodActions(
      testPod({ containers: [web] }),
      observed(s, [observedContainer(web, 'running')]),
      none,
    );
    expect(keep).toMatchObject({
      killPod: false,
      createSandbox: false,
      containersToStart: [],
      containersToKill: [],
    });
  });

  test('when nothing runs and nothing will, the pod is done: its sandbox is stopped', () => {
    const s = [sandbox('s1', 'ready')];
    const done = computePodActions(
      testPod({ restartPolicy: 'Never', containers: [web] }),
      observed(s, [observedContainer(web, 'exited', { exitCode: 0 })]),
      none,
    );
    expect(done).toMatchObject({ killPod: true, createSandbox: false });
    // Its sandbox stopped, a Never pod is not started again.
    const after = computePodActions(
      testPod({ restartPolicy: 'Never', containers: [web] }),
      observed([sandbox('s1', 'notready')], [observedContainer(web, 'exited', { exitCode: 0 })]),
      none,
    );
    expect(after).toMatchObject({ killPod: true, createSandbox: false });
  });

  test('a dead sandbox is replaced (next attempt); OnFailure skips containers that succeeded', () => {
    const a = computePodActions(
      testPod({ restartPolicy: 'OnFailure', containers: [web, side] }),
      observed(
        [sandbox('s1', 'notready', 2)],
        [
          observedContainer(web, 'exited', { exitCode: 0 }),
          observedContainer(side, 'exited', { exitCode: 1 }),
        ],
      ),
      none,
    );
    expect(a).toMatchObject({ killPod: true, createSandbox: true, attempt: 3 });
    expect(a.containersToStart.map((c) => c.name)).toEqual(['side']);
  });

  test('liveness failure kills and restarts; a changed spec replaces the container', () => {
    const s = [sandbox('s1', 'ready')];
    const live = observedContainer(web, 'running');
    const unhealthy = new Map([[live.id, { reason: 'Unhealthy', message: 'failed liveness probe' }]]);
    const a = computePodActions(testPod({ containers: [web] }), observed(s, [live]), unhealthy);
    expect(a.containersToKill.map((k) => [k.container.id, k.reason])).toEqual([[live.id, 'Unhealthy']]);
    expect(a.containersToStart.map((c) => c.name)).toEqual(['web']);
    const never = computePodActions(
      testPod({ restartPolicy: 'Never', containers: [web] }),
      observed(s, [live]),
      unhealthy,
    );
    expect(never.containersToStart).toEqual([]);
    expect(never.containersToKill.length).toBe(1);

    const changed = computePodActions(
      testPod({ containers: [{ ...web, image: 'img:2' }] }),
      observed(s, [live]),
      none,
    );
    expect(changed.containersToKill[0]?.message).toContain('definition changed');
    expect(changed.containersToStart.map((c) => c.image)).toEqual(['img:2']);
  });

  test('shouldStart', () => {
    const exited = (code: number) => observedContainer(web, 'exited', { exitCode: code });
    expect(shouldStart(undefined, 'Never')).toBe(true);
    expect(shouldStart(observedContainer(web, 'created'), 'Never')).toBe(true);
    expect(shouldStart(exited(0), 'Always')).toBe(true);
    expect(shouldStart(exited(0), 'OnFailure')).toBe(false);
    expect(shouldStart(exited(1), 'OnFailure')).toBe(true);
    expect(shouldStart(exited(1), 'Never')).toBe(false);
  });
});
