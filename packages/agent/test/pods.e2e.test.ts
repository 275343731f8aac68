import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cidrContains, parseCIDR, parseIP } from '@flotilla/api';
import { tempDir } from '@flotilla/testkit';
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

reportRootSkip('agent pods e2e');

// Real pods on a real containerd of this suite's own: networking, exec, logs, volumes,
// graceful deletion.
describe.skipIf(!isRoot)('pods on containerd', () => {
  let t: TestNode;
  let pvDir: string;

  beforeAll(async () => {
    t = await startTestNode('pods', { crashLoopBackoff: { initialMs: 1_000 } });
    const { api } = t;

    api.create('web', {
      containers: [
        container(
          'web',
          'mkdir -p /www && echo "hello from $POD_NAME" > /www/index.html && exec httpd -f -p 8080 -h /www',
          {
            ports: [{ name: 'http', containerPort: 8080 }],
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
            livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ),
      ],
    });

    api.create('ticker', {
      containers: [container('tick', 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done')],
    });

    pvDir = tempDir('pv');
    writeFileSync(join(pvDir, 'marker'), 'from-the-pv\n');
    api.lookup.putConfigMap({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'default' },
      data: { greeting: 'hello-from-configmap', 'other.conf': 'x=1' },
    });
    api.lookup.putVolume({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pv-local' },
      spec: { hostPath: { path: pvDir, type: 'Directory' }, capacity: { storage: '1Gi' } },
    });
    api.lookup.putClaim({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'claim', namespace: 'default' },
      spec: { volumeName: 'pv-local' },
      status: { phase: 'Bound' },
    });
    // Counts its own starts in the emptyDir, shows the configMap and PV; the first one exits to be restarted.
    api.create('volumes', {
      volumes: [
        { name: 'cache', emptyDir: {} },
        { name: 'config', configMap: { name: 'settings' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'claim' } },
        { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
      ],
      containers: [
        container(
          'c',
          'n=$(cat /cache/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /cache/n; echo "start $n";' +
            ' echo "config $(cat /etc/config/greeting)"; echo "mem $(grep " /mem " /proc/mounts | cut -d" " -f3)";' +
            ' echo "pv $(cat /data/marker)"; echo "written by pod" > /data/from-pod;' +
            ' if [ $n -ge 2 ]; then exec sleep 3600; fi; exit 1',
          {
            volumeMounts: [
              { name: 'cache', mountPath: '/cache' },
              { name: 'config', mountPath: '/etc/config' },
              { name: 'data', mountPath: '/data' },
              { name: 'mem', mountPath: '/mem' },
            ],
          },
        ),
      ],
    });

    api.create('doomed', {
      terminationGracePeriodSeconds: 3,
      containers: [
        // PID 1 without a handler ignores SIGTERM: only SIGKILL at the end of the grace period stops it.
        container('stubborn', 'exec httpd -f -p 8081'),
        container('polite', 'trap "echo got TERM; exit 0" TERM; while true; do sleep 0.2; done'),
      ],
    });
    api.source.synced();
  });

  afterAll(async () => {
    await t?.node.destroy();
  });

  test('a pod runs, gets an IP in the node pod CIDR, and answers HTTP from the host', async () => {
    const s = await t.api.waitFor('web', 'ready', ready);
    expect(s.phase).toBe('Running');
    expect(s.podIP).toBeDefined();
    expect(cidrContains(parseCIDR(t.podCIDR)!, parseIP(s.podIP!)!)).toBe(true);
    const c = containerOf(s, 'web')!;
    expect(c.ready).toBe(true);
    expect(c.started).toBe(true);
    expect(c.restartCount).toBe(0);
    expect(c.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    expect(c.imageID).toMatch(/^sha256:/);
    expect(s.conditions?.map((x) => [x.type, x.status])).toEqual(
      expect.arrayContaining([
        ['Initialized', 'True'],
        ['ContainersReady', 'True'],
        ['Ready', 'True'],
        ['PodScheduled', 'True'],
      ]),
    );
    const res = await httpGet(`http://${s.podIP}:8080/`);
    expect(res).toEqual({ status: 200, body: 'hello from web\n' });
  });

  test('exec runs in the container, which has its pod name and managed /etc/hosts', async () => {
    const s = await t.api.waitFor('web', 'ready', ready);
    const r = await t.node.kubelet.exec(
      { namespace: 'default', name: 'web' },
      'web',
      ['sh', '-c', 'hostname; cat /etc/hosts; echo err >&2; exit 7'],
      10,
    );
    const out = r.stdout.toString();
    expect(r.exitCode).toBe(7);
    expect(r.stderr.toString()).toBe('err\n');
    expect(out.split('\n')[0]).toBe('web');
    expect(out).toContain(`${s.podIP}\tweb`);
  });

  test('logs read with tail, since and follow', async () => {
    await t.api.waitFor('ticker', 'running', running('tick'));
    const ref = { namespace: 'default', name: 'ticker' };
    // Wait for a few lines, then check --tail returns the last ones in order.
    let all = '';
    for (let i = 0; i < 50 && all.split('\n').length < 6; i++) {
      all = await collect(t.node.kubelet.logs(ref, 'tick', {}));
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = all.trim().split('\n');
    expect(lines[0]).toBe('line 1');
    const tail = (await collect(t.node.kubelet.logs(ref, 'tick', { tailLines: 2 }))).trim().split('\n');
    expect(tail.length).toBe(2);
    const tailN = tail.map((l) => Number(l.split(' ')[1]));
    expect(tailN[1]! - tailN[0]!).toBe(1);
    expect(tailN[0]!).toBeGreaterThanOrEqual(lines.length - 1);

    const sinceMs = Date.now();
    await new Promise((r) => setTimeout(r, 700));
    const since = (await collect(t.node.kubelet.logs(ref, 'tick', { sinceMs, timestamps: true })))
      .trim()
      .split('\n');
    expect(since.length).toBeGreaterThanOrEqual(2);
    for (const l of since) {
      const [ts] = l.split(' ');
      expect(Date.parse(ts!)).toBeGreaterThanOrEqual(sinceMs - 1);
    }

    // Follow: new lines arrive while the container runs; the stream is cut off by the caller.
    const abort = new AbortController();
    const seen: string[] = [];
    const began = Date.now();
    for await (const chunk of t.node.kubelet.logs(
      ref,
      'tick',
      { follow: true, tailLines: 0 },
      abort.signal,
    )) {
      seen.push(...chunk.toString().trim().split('\n'));
      if (seen.length >= 3) abort.abort();
      if (Date.now() - began > 10_000) break;
    }
    expect(seen.length).toBeGreaterThanOrEqual(3);
    const n = seen.map((l) => Number(l.split(' ')[1]));
    expect(n[1]! - n[0]!).toBe(1);
    expect(n[0]!).toBeGreaterThan(tailN[1]!);
  });

  test('emptyDir data survives a container restart; configMap files show the data; the PVC is the PV directory', async () => {
    const s = await t.api.waitFor(
      'volumes',
      'restarted',
      (st) => (containerOf(st, 'c')?.restartCount ?? 0) >= 1,
      30_000,
    );
    expect(containerOf(s, 'c')?.lastState?.terminated?.exitCode).toBe(1);
    const ref = { namespace: 'default', name: 'volumes' };
    // The second instance found the first one's count in the emptyDir.
    await t.api.waitFor('volumes', 'running again', running('c'));
    let current = '';
    for (let i = 0; i < 40 && !current.includes('pv '); i++) {
      current = await collect(t.node.kubelet.logs(ref, 'c', {}));
      if (!current.includes('pv ')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(current).toContain('start 2');
    expect(current).toContain('config hello-from-configmap');
    expect(current).toContain('pv from-the-pv');
    expect(current).toContain('mem tmpfs');
    const previous = await collect(t.node.kubelet.logs(ref, 'c', { previous: true }));
    expect(previous).toContain('start 1');
    expect(readFileSync(join(pvDir, 'from-pod'), 'utf8')).toBe('written by pod\n');
    // The configMap volume holds every key as a file.
    const cm = join(
      t.paths.podsDir,
      t.api.get('volumes').metadata.uid!,
      'volumes',
      'kubernetes.io~configmap',
      'config',
    );
    expect(readFileSync(join(cm, 'other.conf'), 'utf8')).toBe('x=1');
  });

  test('deleting a pod stops it within its grace period, then its sandbox and containers are gone', async () => {
    await t.api.waitFor('doomed', 'running', (s) => running('stubborn')(s) && running('polite')(s));
    const uid = t.api.get('doomed').metadata.uid!;
    const began = Date.now();
    t.api.delete('doomed', 3);
    const deadline = Date.now() + 20_000;
    while (!t.api.terminated.includes('doomed') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const elapsedMs = Date.now() - began;
    expect(t.api.terminated).toContain('doomed');
    // SIGKILL came only after the grace period, and not much later.
    expect(elapsedMs).toBeGreaterThanOrEqual(2_900);
    expect(elapsedMs).toBeLessThan(15_000);
    const last = [...t.api.reports].reverse().find((r) => r.name === 'doomed')!.status;
    expect(containerOf(last, 'polite')?.state?.terminated?.exitCode).toBe(0);
    expect(containerOf(last, 'stubborn')?.state?.terminated?.exitCode).toBe(137);
    expect(['Failed', 'Succeeded']).toContain(last.phase);

    // After the final delete the agent removes everything of the pod.
    const labels = { 'io.kubernetes.pod.uid': uid };
    const podDir = join(t.paths.podsDir, uid);
    for (let i = 0; i < 100; i++) {
      const left = [
        ...(await t.node.runtime.listPodSandboxes({ labels })),
        ...(await t.node.runtime.listContainers({ labels })),
      ];
      if (left.length === 0 && !existsSync(podDir)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await t.node.runtime.listPodSandboxes({ labels })).toEqual([]);
    expect(await t.node.runtime.listContainers({ labels })).toEqual([]);
    expect(existsSync(podDir)).toBe(false);
  });
});
