import { silentLogger, sleep } from '@flotilla/actor';
import type { Pod, PodStatus } from '@flotilla/api';
import { afterEach, describe, expect, test } from 'vitest';
import { FakeRuntime } from '../runtime/fake-runtime.ts';
import { Kubelet } from './kubelet.ts';
import { InMemoryObjectLookup, InMemoryPodSource, type PodRef } from './pod-source.ts';
import { AlwaysSucceedProber, type ProbeResult, type Prober } from './prober.ts';
import { NoVolumeManager } from './volumes.ts';

// The kubelet's logic over the fake runtime: no processes, so restarts and deletions are
// driven by the test. The real runtime is exercised in test/*.e2e.test.ts.

class Api {
  readonly source = new InMemoryPodSource();
  readonly reports: { name: string; status: PodStatus }[] = [];
  readonly terminated: string[] = [];
  readonly pods = new Map<string, Pod>();
  podStatus(ref: PodRef, status: PodStatus): void {
    this.reports.push({ name: ref.name, status });
    const p = this.pods.get(ref.name);
    if (p !== undefined) this.pods.set(ref.name, { ...p, status });
  }
  podTerminated(ref: PodRef): void {
    this.terminated.push(ref.name);
    const p = this.pods.get(ref.name);
    if (p !== undefined) {
      this.pods.delete(ref.name);
      this.source.delete(p);
    }
  }
  add(pod: Pod): void {
    this.pods.set(pod.metadata.name!, pod);
    this.source.add(pod);
  }
  status(name: string): PodStatus | undefined {
    return this.pods.get(name)?.status;
  }
  async waitFor(name: string, check: (s: PodStatus) => boolean, timeoutMs = 5_000): Promise<PodStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.status(name);
      if (s !== undefined && check(s)) return s;
      if (Date.now() > deadline) throw new Error(`${name}: condition not met; last ${JSON.stringify(s)}`);
      await sleep(10);
    }
  }
}

const kubelets: Kubelet[] = [];
afterEach(async () => {
  for (const k of kubelets.splice(0)) await k.stop();
});

function start(api: Api, runtime: FakeRuntime, prober: Prober = new AlwaysSucceedProber()): Kubelet {
  const k = new Kubelet({
    nodeName: 'n1',
    runtime,
    runtimeName: 'fake',
    source: api.source,
    statusSink: api,
    lookup: new InMemoryObjectLookup(),
    volumes: new NoVolumeManager(),
    prober,
    podLogsDir: '/fake/logs',
    hostIP: '192.0.2.2',
    hostResolvConf: { servers: [], searches: [], options: [] },
    nodeAllocatable: { cpuMilli: 2000, memoryBytes: 4 * 1024 ** 3 },
    crashLoopBackoff: { initialMs: 200 },
    imagePullBackoff: { initialMs: 200 },
    relistIntervalMs: 20,
    resyncIntervalMs: 200,
    logger: silentLogger(),
  });
  kubelets.push(k);
  k.start();
  return k;
}

let uid = 0;
function pod(name: string, spec: Pod['spec']): Pod {
  uid += 1;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `u${uid}` },
    spec: { nodeName: 'n1', ...spec! },
  };
}
const running = (s: PodStatus) =>
  s.phase === 'Running' && s.containerStatuses?.every((c) => c.state?.running !== undefined) === true;
const c = (s: PodStatus | undefined) => s?.containerStatuses?.[0];

describe('Kubelet over the fake runtime', () => {
  test('a pod runs and is ready; its status is reported once per change, not on every sync', async () => {
    const api = new Api();
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    start(api, rt);
    api.add(pod('web', { containers: [{ name: 'c', image: 'img:1' }] }));
    api.source.synced();
    const s = await api.waitFor(
      'web',
      (st) => running(st) && st.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true,
    );
    expect(s.podIP).toMatch(/^10\.9\.0\.\d+$/);
    expect(c(s)?.containerID).toMatch(/^fake:\/\//);
    const n = api.reports.length;
    await sleep(600); // many relists and a few resyncs
    expect(api.reports.length).toBe(n);
  });

  test('an exiting container restarts with growing back-off and the restart count', async () => {
    const api = new Api();
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    start(api, rt);
    api.add(pod('crash', { containers: [{ name: 'c', image: 'img:1' }] }));
    api.source.synced();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const st = await api.waitFor('crash', (s) => c(s)?.restartCount === i && running(s));
      times.push(Date.now());
      rt.exitContainer(c(st)!.containerID!.replace('fake://', ''), 1);
    }
    const waiting = await api.waitFor('crash', (s) => c(s)?.state?.waiting?.reason === 'CrashLoopBackOff');
    expect(c(waiting)?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    await api.waitFor('crash', (s) => c(s)?.restartCount === 3 && running(s));
    times.push(Date.now());
    // Restart 1 at once, then 200 ms, then 400 ms.
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(180);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(380);
  });

  test('restartPolicy Never: the pod Succeeds and its sandbox is stopped; nothing restarts', async () => {
    const api = new Api();
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    start(api, rt);
    api.add(pod('job', { restartPolicy: 'Never', containers: [{ name: 'c', image: 'img:1' }] }));
    api.source.synced();
    const st = await api.waitFor('job', running);
    rt.exitContainer(c(st)!.containerID!.replace('fake://', ''), 0);
    const done = await api.waitFor('job', (s) => s.phase === 'Succeeded');
    expect(c(done)?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    await sleep(300);
    expect((await rt.listPodSandboxes()).map((s) => s.state)).toEqual(['notready']);
    expect(await rt.listContainers({ state: 'running' })).toEqual([]);
  });

  test('init containers run one after another before the regular ones', async () => {
    const api = new Api();
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    start(api, rt);
    api.add(
      pod('init', {
        initContainers: [
          { name: 'i1', image: 'img:1' },
          { name: 'i2', image: 'img:1' },
        ],
        containers: [{ name: 'c', image: 'img:1' }],
      }),
    );
    api.source.synced();
    for (const name of ['i1', 'i2']) {
      const s = await api.waitFor(
        'init',
        (st) => st.initContainerStatuses?.find((x) => x.name === name)?.state?.running !== undefined,
      );
      expect(s.phase).toBe('Pending');
      expect(c(s)?.state?.waiting?.reason).toBe('PodInitializing');
      expect((await rt.listContainers({ state: 'running' })).map((x) => x.name)).toEqual([name]);
      rt.exitContainer(
        s.initContainerStatuses!.find((x) => x.name === name)!.containerID!.replace('fake://', ''),
        0,
      );
    }
    const s = await api.waitFor('init', running);
    expect(s.conditions?.find((x) => x.type === 'Initialized')?.status).toBe('True');
  });

  test('a missing image: ErrImagePull, then ImagePullBackOff', async () => {
    const api = new Api();
    start(api, new FakeRuntime({ podCIDR: '10.9.0.0/24', images: ['img:1'] }));
    api.add(pod('img', { containers: [{ name: 'c', image: 'other:2' }] }));
    api.source.synced();
    await api.waitFor('img', (s) => c(s)?.state?.waiting?.reason === 'ErrImagePull');
    await api.waitFor('img', (s) => c(s)?.state?.waiting?.reason === 'ImagePullBackOff');
  });

  test('graceful deletion: containers stop, the final status goes out, then the pod is removed from the runtime', async () => {
    const api = new Api();
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    start(api, rt);
    const p = pod('gone', { containers: [{ name: 'c', image: 'img:1' }] });
    api.add(p);
    api.source.synced();
    await api.waitFor('gone', running);
    const deleting = {
      ...api.pods.get('gone')!,
      metadata: { ...p.metadata, deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 1 },
    };
    api.pods.set('gone', deleting);
    api.source.update(deleting);
    for (let i = 0; i < 200 && rt.sandboxCount > 0; i++) await sleep(10);
    expect(api.terminated).toEqual(['gone']);
    const last = api.reports.filter((r) => r.name === 'gone').at(-1)!.status;
    expect(c(last)?.state?.terminated).toBeDefined();
    expect(last.phase).toBe('Succeeded');
    expect(rt.sandboxCount).toBe(0);
    expect(rt.containerCount).toBe(0);
  });

  test('a restarted kubelet adopts running pods without a change, and removes orphans only once synced', async () => {
    const api = new Api();
    const rt = new FakeRuntime({ podCIDR: '10.9.0.0/24' });
    const k1 = start(api, rt);
    api.add(pod('keep', { containers: [{ name: 'c', image: 'img:1' }] }));
    api.add(pod('drop', { containers: [{ name: 'c', image: 'img:1' }] }));
    api.source.synced();
    await api.waitFor('keep', running);
    await api.waitFor('drop', running);
    const before = (await rt.listContainers()).map((x) => x.id).sort();
    await k1.stop();

    const api2 = new Api();
    const keep = api.pods.get('keep')!;
    api2.add(keep); // as the API hands it back: with its status
    start(api2, rt);
    await sleep(300);
    // Not synced yet: the other pod may just not have been listed; it is left alone.
    expect((await rt.listContainers()).map((x) => x.id).sort()).toEqual(before);
    api2.source.synced();
    for (let i = 0; i < 200 && rt.sandboxCount > 1; i++) await sleep(10);
    const after = await rt.listContainers();
    expect(after.map((x) => x.id)).toEqual([c(keep.status)!.containerID!.replace('fake://', '')]);
    expect(api2.reports.filter((r) => r.name === 'keep')).toEqual([]);
  });

  test('a container being stopped (long grace period) does not hold back the status of the others', async () => {
    const api = new Api();
    // Stops take as long as the test holds the gate: the grace period of a stubborn process.
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    class GatedRuntime extends FakeRuntime {
      override async stopContainer(id: string): Promise<void> {
        await gate;
        return super.stopContainer(id);
      }
    }
    const rt = new GatedRuntime({ podCIDR: '10.9.0.0/24' });
    // Liveness of "sick" fails at once; readiness of "slow" succeeds once "sick" failed.
    let sickFailed = false;
    const prober: Prober = {
      probe: async (_probe, target): Promise<ProbeResult> => {
        if (target.container.name === 'sick') {
          sickFailed = true;
          return { ok: false, message: '' };
        }
        return { ok: sickFailed, message: '' };
      },
      handler: async () => ({ ok: true, message: '' }),
    };
    start(api, rt, prober);
    const probe = { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 1 };
    api.add(
      pod('two', {
        containers: [
          { name: 'sick', image: 'img:1', livenessProbe: probe },
          { name: 'slow', image: 'img:1', readinessProbe: probe },
        ],
      }),
    );
    api.source.synced();
    // "slow" becomes ready, and that is reported, while "sick" is still being stopped.
    const s = await api.waitFor(
      'two',
      (st) => st.containerStatuses?.find((x) => x.name === 'slow')?.ready === true,
    );
    expect(s.containerStatuses?.find((x) => x.name === 'sick')?.state?.running).toBeDefined();
    expect(rt.containerCount).toBe(2);
    // Once stopped, "sick" is restarted.
    openGate();
    await api.waitFor(
      'two',
      (st) => st.containerStatuses?.find((x) => x.name === 'sick')?.restartCount === 1,
    );
  });
});
