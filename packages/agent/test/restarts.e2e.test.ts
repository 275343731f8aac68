import { sleep } from '@flotilla/actor';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  collect,
  container,
  containerOf,
  httpGet,
  isRoot,
  ready,
  reportRootSkip,
  running,
  startTestNode,
  type TestNode,
} from './harness.ts';

reportRootSkip('agent restarts e2e');

const backoffBaseMs = 1_000;
const exec = (t: TestNode, pod: string, command: string) =>
  t.node.kubelet.exec({ namespace: 'default', name: pod }, 'c', ['sh', '-c', command], 10);

// Restarts, probes and the reasons a container does not run, all on one containerd;
// the pods are created together and each test waits for its own.
describe.skipIf(!isRoot)('restarts, probes and failures on containerd', () => {
  let t: TestNode;
  /** restartCount → when that instance of crasher's container started / exited (runtime clock). */
  const crasherStarts = new Map<number, number>();
  const crasherExits = new Map<number, number>();
  let watching = true;

  // Each instance lives until two restarts later (the kubelet keeps the newest dead one);
  // polling every 100 ms sees all of them.
  async function watchCrasher(): Promise<void> {
    while (watching) {
      for (const c of await t.node.runtime.listContainers({
        labels: { 'io.kubernetes.pod.name': 'crasher' },
      })) {
        const s = await t.node.runtime.containerStatus(c.id).catch(() => undefined);
        const n = Number(s?.annotations['io.kubernetes.container.restartCount']);
        if (s === undefined || !Number.isInteger(n)) continue;
        if (s.startedAtMs > 0) crasherStarts.set(n, s.startedAtMs);
        if (s.finishedAtMs > 0) crasherExits.set(n, s.finishedAtMs);
      }
      await sleep(100);
    }
  }

  beforeAll(async () => {
    t = await startTestNode('restarts', { crashLoopBackoff: { initialMs: backoffBaseMs } });
    const { api } = t;
    api.create('crasher', { containers: [container('c', 'echo "run at $(date +%s)"; exit 1')] });
    api.create('liveness', {
      // sleep as PID 1 ignores SIGTERM: the kill waits out the grace period before SIGKILL.
      terminationGracePeriodSeconds: 2,
      containers: [
        container('c', 'touch /tmp/healthy; exec sleep 3600', {
          livenessProbe: {
            exec: { command: ['test', '-f', '/tmp/healthy'] },
            periodSeconds: 1,
            failureThreshold: 1,
          },
        }),
      ],
    });
    api.create('readiness', {
      containers: [
        container('c', 'touch /tmp/ready; exec sleep 3600', {
          readinessProbe: {
            exec: { command: ['test', '-f', '/tmp/ready'] },
            periodSeconds: 1,
            failureThreshold: 1,
          },
        }),
      ],
    });
    api.create('startup', {
      containers: [
        container('c', 'exec sleep 3600', {
          startupProbe: {
            exec: { command: ['test', '-f', '/tmp/started'] },
            periodSeconds: 1,
            failureThreshold: 120,
          },
          // Would kill the container at once if it ran before the startup probe succeeded.
          livenessProbe: {
            exec: { command: ['test', '-f', '/tmp/started'] },
            periodSeconds: 1,
            failureThreshold: 1,
          },
          readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 },
        }),
      ],
    });
    api.create('missing-image', { containers: [{ name: 'c', image: 'localhost/no-such-image:1' }] });
    api.create('never-pull', {
      containers: [{ name: 'c', image: 'localhost/no-such-image:2', imagePullPolicy: 'Never' }],
    });
    api.create('bad-command', {
      containers: [{ name: 'c', image: 'localhost/busybox:1', command: ['/no/such/binary'] }],
    });
    api.create('bad-config', {
      containers: [
        container('c', 'sleep 3600', {
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k' } } }],
        }),
      ],
    });
    api.create('healthy', {
      containers: [container('c', 'mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 80 -h /w')],
    });
    // dd fills a 64 MiB buffer from /dev/zero: over the 16 MiB limit the memory cgroup enforces.
    api.create('oom', {
      restartPolicy: 'Never',
      containers: [
        container('c', 'dd if=/dev/zero of=/dev/null bs=64M count=1', {
          resources: { limits: { memory: '16Mi' } },
        }),
      ],
    });
    api.source.synced();
    void watchCrasher();
  });

  afterAll(async () => {
    watching = false;
    await t?.node.destroy();
  });

  test('a container that exits is restarted with growing back-off, and the restart count shows it', async () => {
    await t.api.waitFor(
      'crasher',
      'restarted 3 times',
      (s) => (containerOf(s, 'c')?.restartCount ?? 0) >= 3,
      40_000,
    );
    for (let i = 0; i < 50 && !crasherStarts.has(3); i++) await sleep(100);
    // The runtime's own clock: how long each instance waited after the previous one exited
    // (the first restart has no back-off; the next ones wait 1 s, then 2 s, at least).
    const waitedMs = (n: number) => crasherStarts.get(n)! - crasherExits.get(n - 1)!;
    expect(waitedMs(2)).toBeGreaterThanOrEqual(backoffBaseMs);
    expect(waitedMs(3)).toBeGreaterThanOrEqual(2 * backoffBaseMs);
    // While it waits it says so. (A wait can pass unseen when the exit is noticed late,
    // but the waits grow, so one is seen.)
    const waiting = await t.api.waitFor(
      'crasher',
      'in CrashLoopBackOff',
      (s) => containerOf(s, 'c')?.state?.waiting?.reason === 'CrashLoopBackOff',
      40_000,
    );
    const c = containerOf(waiting, 'c')!;
    expect(c.state?.waiting?.message).toMatch(
      /^back-off (1|2|4|8|16)s restarting failed container=c pod=crasher_default\(/,
    );
    expect(c.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(waiting.phase).toBe('Running');
    const delays = t.api.reports
      .filter((r) => r.name === 'crasher')
      .map((r) => containerOf(r.status, 'c')?.state?.waiting)
      .filter((w) => w?.reason === 'CrashLoopBackOff')
      .map((w) => Number.parseInt(w?.message?.split(' ')[1] ?? '', 10));
    expect(delays).toEqual([...delays].sort((a, b) => a - b));

    const previous = await collect(
      t.node.kubelet.logs({ namespace: 'default', name: 'crasher' }, 'c', { previous: true }),
    );
    expect(previous).toMatch(/^run at \d+\n$/);
  });

  test('a failing liveness probe restarts the container', async () => {
    const before = await t.api.waitFor('liveness', 'running', running('c'));
    expect(containerOf(before, 'c')?.restartCount).toBe(0);
    await exec(t, 'liveness', 'rm /tmp/healthy');
    const after = await t.api.waitFor(
      'liveness',
      'restarted',
      (s) => containerOf(s, 'c')?.restartCount === 1 && running('c')(s),
      30_000,
    );
    expect(containerOf(after, 'c')?.containerID).not.toBe(containerOf(before, 'c')?.containerID);
    expect(containerOf(after, 'c')?.lastState?.terminated?.exitCode).toBe(137);
    // The new container is healthy again and stays.
    await sleep(2_500);
    expect(containerOf(t.api.status('liveness'), 'c')?.restartCount).toBe(1);
  });

  test('a failing readiness probe makes the pod NotReady without a restart', async () => {
    const before = await t.api.waitFor('readiness', 'ready', ready);
    const id = containerOf(before, 'c')?.containerID;
    await exec(t, 'readiness', 'rm /tmp/ready');
    const notReady = await t.api.waitFor('readiness', 'not ready', (s) => !ready(s), 30_000);
    expect(containerOf(notReady, 'c')).toMatchObject({ ready: false, restartCount: 0, containerID: id });
    expect(notReady.conditions?.find((c) => c.type === 'ContainersReady')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [c]',
    });
    expect(running('c')(notReady)).toBe(true);
    await exec(t, 'readiness', 'touch /tmp/ready');
    const again = await t.api.waitFor('readiness', 'ready again', ready, 30_000);
    expect(containerOf(again, 'c')).toMatchObject({ ready: true, restartCount: 0, containerID: id });
  });

  test('a startup probe holds liveness and readiness back until it succeeds', async () => {
    await t.api.waitFor('startup', 'running', running('c'));
    await sleep(3_000);
    const waiting = t.api.status('startup')!;
    expect(containerOf(waiting, 'c')).toMatchObject({ started: false, ready: false, restartCount: 0 });
    await exec(t, 'startup', 'touch /tmp/started');
    const started = await t.api.waitFor('startup', 'started and ready', ready, 30_000);
    expect(containerOf(started, 'c')).toMatchObject({ started: true, ready: true, restartCount: 0 });
  });

  test('a missing image gives ErrImagePull, then ImagePullBackOff; with pull policy Never, ErrImageNeverPull', async () => {
    const pull = await t.api.waitFor(
      'missing-image',
      'ErrImagePull',
      (s) => containerOf(s, 'c')?.state?.waiting?.reason === 'ErrImagePull',
    );
    expect(containerOf(pull, 'c')?.state?.waiting?.message).toContain('localhost/no-such-image:1');
    expect(pull.phase).toBe('Pending');
    const backoff = await t.api.waitFor(
      'missing-image',
      'ImagePullBackOff',
      (s) => containerOf(s, 'c')?.state?.waiting?.reason === 'ImagePullBackOff',
      30_000,
    );
    expect(containerOf(backoff, 'c')?.state?.waiting?.message).toBe(
      'Back-off pulling image "localhost/no-such-image:1"',
    );
    const never = await t.api.waitFor(
      'never-pull',
      'ErrImageNeverPull',
      (s) => containerOf(s, 'c')?.state?.waiting?.reason === 'ErrImageNeverPull',
    );
    expect(containerOf(never, 'c')?.state?.waiting?.message).toBe(
      'Container image "localhost/no-such-image:2" is not present with pull policy of Never',
    );
  });

  test('a bad command gives RunContainerError then CrashLoopBackOff, with the runtime message', async () => {
    const s = await t.api.waitFor(
      'bad-command',
      'in CrashLoopBackOff',
      (st) => containerOf(st, 'c')?.state?.waiting?.reason === 'CrashLoopBackOff',
      30_000,
    );
    const c = containerOf(s, 'c')!;
    expect(c.lastState?.terminated).toMatchObject({ exitCode: 128, reason: 'StartError' });
    expect(c.lastState?.terminated?.message).toContain('/no/such/binary');
    expect(
      t.api.reports.some(
        (r) =>
          r.name === 'bad-command' &&
          containerOf(r.status, 'c')?.state?.waiting?.reason === 'RunContainerError',
      ),
    ).toBe(true);
  });

  test('a container over its memory limit is OOMKilled (the limit reaches the cgroup)', async () => {
    const s = await t.api.waitFor(
      'oom',
      'terminated',
      (st) => containerOf(st, 'c')?.state?.terminated !== undefined,
    );
    expect(containerOf(s, 'c')?.state?.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
    expect(s.phase).toBe('Failed');
    // A memory limit alone (no CPU) makes the pod Burstable.
    expect(s.qosClass).toBe('Burstable');
  });

  test('a missing ConfigMap key gives CreateContainerConfigError', async () => {
    const s = await t.api.waitFor(
      'bad-config',
      'CreateContainerConfigError',
      (st) => containerOf(st, 'c')?.state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(containerOf(s, 'c')?.state?.waiting?.message).toBe('configmap "absent" not found');
  });

  test('the agent keeps serving other pods through all of this', async () => {
    const s = await t.api.waitFor('healthy', 'ready', ready);
    expect(await httpGet(`http://${s.podIP}/`)).toEqual({ status: 200, body: 'ok\n' });
  });
});
