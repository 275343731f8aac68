// The two classic walkthroughs on one cluster (testkit's AgentCluster): two workers, each
// a `flotilla agent` with its own containerd in its own network namespace, and a
// control-plane node (an agent on the fake runtime) carrying the
// `node-role.kubernetes.io/control-plane:NoSchedule` taint, driven by /usr/bin/kubectl.
// 1. Service operations: a 4-replica web Deployment behind a Service answers a client
//    pod from all four pods; one pod deleted leaves the Endpoints at once (its preStop
//    hook keeps it serving meanwhile), its replacement joins and answers, and the client
//    looping on the Service all along sees no failed request.
// 2. Pod operations: a 3-replica Deployment runs only on the workers; one worker's agent
//    SIGKILLed, its Node turns NotReady (Unknown), is tainted unreachable, and once the
//    (shortened) default toleration has passed its pods are replaced on the survivor.
// Runs last what destroys a worker. The node lifecycle timings are shortened (lease
// renewed every 1 s, node monitor grace 8 s, default toleration 2 s instead of
// Kubernetes' 10 s, 40 s and 300 s). Needs root.
import type { Endpoints, Node, Pod, Service } from '@flotilla/api';
import { AgentCluster, reportRootSkip, runsAsRoot } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlFor, until } from './kubectl.ts';

const ranges = {
  name: 'flwalk',
  underlayCIDR: '10.237.0.0/24',
  clusterCIDR: '10.238.0.0/16',
  serviceCIDR: '10.239.0.0/16',
  clusterDNS: '10.239.0.10',
};
const controlPlaneNode = 'cp';
const workers = ['node-a', 'node-b'];
const controlPlaneTaint = 'node-role.kubernetes.io/control-plane';
const timings = { leaseRenewIntervalMs: 1_000, nodeMonitorGracePeriodMs: 8_000, defaultTolerationSeconds: 2 };
/** How long a run waits for another run of this file (another checkout's CI) to finish with the machine. */
const scopeLockWaitMs = 540_000;

let cluster: AgentCluster;

const { kubectl, kubectlApply, getJson } = kubectlFor(() => cluster.kubeconfig);

const readyStatus = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
const isRunningReady = (p: Pod) =>
  p.status?.phase === 'Running' &&
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

async function livePods(selector: string): Promise<Pod[]> {
  const list = await getJson<{ items: Pod[] }>('pods', '-l', selector);
  return list.items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

// busybox httpd answering its pod name; sh stays PID 1 so SIGTERM stops httpd (httpd as
// PID 1 would ignore it and wait for the SIGKILL at the end of the grace period).
const webScript = [
  'mkdir -p /www',
  'hostname > /www/index.html',
  'httpd -f -p 8080 -h /www & pid=$!',
  'trap "kill $pid; exit 0" TERM',
  'wait $pid',
].join('; ');

const webDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 4,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 15,
        containers: [
          {
            name: 'web',
            image: 'localhost/busybox:1',
            imagePullPolicy: 'Never',
            command: ['sh', '-c', webScript],
            ports: [{ containerPort: 8080, name: 'http' }],
            readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            // Kubernetes' advice for a clean drain: keep serving while the Endpoints
            // change reaches every node's proxy, then stop.
            lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
          },
        ],
      },
    },
  },
};

const webService = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
};

describe.skipIf(!runsAsRoot)(
  'the walkthroughs on two containerd workers and a tainted control-plane node',
  () => {
    beforeAll(async () => {
      cluster = await AgentCluster.start({
        ...ranges,
        nodes: [controlPlaneNode, ...workers],
        fakeRuntimeNodes: [controlPlaneNode],
        leaseRenewIntervalMs: timings.leaseRenewIntervalMs,
        controllers: {
          nodeMonitorGracePeriodMs: timings.nodeMonitorGracePeriodMs,
          defaultTolerationSeconds: timings.defaultTolerationSeconds,
        },
        scopeLockWaitMs,
      });
    }, scopeLockWaitMs + 120_000);

    afterAll(async () => {
      await cluster?.destroy();
    }, 120_000);

    it('has three Ready nodes, the control-plane one tainted NoSchedule', async () => {
      await until(
        'three Ready nodes',
        async () => {
          const list = await getJson<{ items: Node[] }>('nodes');
          return list.items.length === 3 && list.items.every((n) => readyStatus(n) === 'True')
            ? true
            : undefined;
        },
        60_000,
      );
      // kubeadm's mark-control-plane step: the role label and the NoSchedule taint.
      await kubectl('label', 'node', controlPlaneNode, `${controlPlaneTaint}=`);
      await kubectl('taint', 'node', controlPlaneNode, `${controlPlaneTaint}:NoSchedule`);
      const cp = await getJson<Node>('node', controlPlaneNode);
      expect(cp.spec?.taints).toContainEqual({ key: controlPlaneTaint, effect: 'NoSchedule' });
    }, 70_000);

    it('load-balances a Service over 4 pods and drains a deleted pod without a failed request', async () => {
      await kubectlApply(webDeployment);
      await kubectlApply(webService);
      await kubectl('rollout', 'status', 'deployment/web', '--timeout=60s');
      const pods = await livePods('app=web');
      expect(pods).toHaveLength(4);
      for (const p of pods) expect(workers).toContain(p.spec?.nodeName);
      const clusterIP = (await getJson<Service>('service', 'web')).spec?.clusterIP ?? '';
      expect(clusterIP).toMatch(/^10\.239\./);
      const readyIPs = async () => {
        const ep = await getJson<Endpoints>('endpoints', 'web');
        return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
      };
      await until(
        'four web endpoints',
        async () => ((await readyIPs()).length === 4 ? true : undefined),
        20_000,
      );

      // A client on node A requests the Service 10 times a second until it is deleted,
      // one line per request: `ok <pod name>` or `fail <wget's message>`.
      const client: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'client', namespace: 'default' },
        spec: {
          nodeName: 'node-a',
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'client',
              image: 'localhost/busybox:1',
              imagePullPolicy: 'Never',
              command: [
                'sh',
                '-c',
                // Bounded: at most 3000 requests (5 min at 10/s).
                `for i in $(seq 3000); do ` +
                  `if r=$(timeout 3 wget -q -O - http://${clusterIP}/ 2>&1); then echo "ok $r"; else echo "fail $r"; fi; ` +
                  'sleep 0.1; done; echo done',
              ],
            },
          ],
        },
      };
      await kubectlApply(client);
      const answers = async () => (await kubectl('logs', 'client')).split('\n').filter((l) => l !== '');
      const answered = (lines: string[]) =>
        new Set(lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3)));
      const names = pods.map((p) => p.metadata.name ?? '').sort();
      // All four pods answer (a given pod is missed by 40 random picks 1 time in 100 000).
      await until(
        'all four pods answering',
        async () => {
          const seen = answered(await answers());
          return names.every((n) => seen.has(n)) ? true : undefined;
        },
        40_000,
      );

      const victim = pods.find((p) => p.spec?.nodeName === 'node-b') ?? pods[0]!;
      const victimName = victim.metadata.name ?? '';
      const victimIP = victim.status?.podIP ?? '';
      await kubectl('delete', 'pod', victimName, '--wait=false');
      const deletedAt = Date.now();
      // The Endpoints drop it as soon as it is terminating (not when it has stopped).
      await until(
        'the deleted pod out of the Endpoints',
        async () => {
          const ep = await getJson<Endpoints>('endpoints', 'web');
          const all = (ep.subsets ?? []).flatMap((s) => [
            ...(s.addresses ?? []),
            ...(s.notReadyAddresses ?? []),
          ]);
          return all.some((a) => a.ip === victimIP) ? undefined : true;
        },
        10_000,
      );
      const droppedAfterMs = Date.now() - deletedAt;
      // The ReplicaSet's replacement becomes ready, joins the Endpoints and answers.
      const replacement = await until(
        'a ready replacement',
        async () => {
          const now = await livePods('app=web');
          const fresh = now.filter((p) => !names.includes(p.metadata.name ?? ''));
          return now.length === 4 && fresh.length === 1 && isRunningReady(fresh[0]!) ? fresh[0] : undefined;
        },
        40_000,
      );
      const replacementName = replacement.metadata.name ?? '';
      await until(
        'the replacement in the Endpoints',
        async () => ((await readyIPs()).includes(replacement.status?.podIP ?? '') ? true : undefined),
        20_000,
      );
      await until(
        'the replacement answering',
        async () => (answered(await answers()).has(replacementName) ? true : undefined),
        30_000,
      );
      // The victim is gone for good (after its preStop hook and SIGTERM), and the client
      // kept going meanwhile: a few more seconds of requests after the replacement answered.
      await until(
        'the deleted pod removed',
        async () =>
          (await getJson<{ items: Pod[] }>('pods', '-l', 'app=web')).items.some(
            (p) => p.metadata.name === victimName,
          )
            ? undefined
            : true,
        40_000,
      );
      const seenBefore = (await answers()).length;
      await until(
        '20 more requests',
        async () => ((await answers()).length >= seenBefore + 20 ? true : undefined),
        20_000,
      );
      const lines = await answers();
      const failed = lines.filter((l) => l.startsWith('fail'));
      // No failed request: the deleted pod kept serving (preStop) until every proxy had
      // dropped it. Tolerance: none (a request in flight when its httpd stopped would be
      // the only excuse, and the preStop hook outlasts the Endpoints change).
      expect(failed, `${failed.length} failed of ${lines.length}: ${failed.slice(0, 5).join(' | ')}`).toEqual(
        [],
      );
      expect(answered(lines).has(replacementName)).toBe(true);
      expect(lines.filter((l) => l.startsWith('ok ')).length).toBeGreaterThan(60);
      process.stdout.write(
        `service walkthrough: ${lines.length} requests, ${failed.length} failed; ` +
          `deleted pod out of the Endpoints after ${droppedAfterMs} ms\n`,
      );
      await kubectl('delete', 'pod', 'client', '--wait=false');
      await kubectl('delete', 'deployment', 'web', '--wait=false');
    }, 180_000);

    it('replaces the pods of a SIGKILLed worker on the surviving one once its Node is NotReady', async () => {
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'app', namespace: 'default' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'app' } },
          template: {
            metadata: { labels: { app: 'app' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'app',
                  image: 'localhost/busybox:1',
                  imagePullPolicy: 'Never',
                  command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
                },
              ],
            },
          },
        },
      };
      await kubectlApply(deployment);
      await kubectl('rollout', 'status', 'deployment/app', '--timeout=60s');
      const before = await livePods('app=app');
      expect(before).toHaveLength(3);
      // Only on workers: the control-plane node's taint keeps them off it.
      for (const p of before) expect(workers).toContain(p.spec?.nodeName);
      const onNode = (n: string) => before.filter((p) => p.spec?.nodeName === n).length;
      const victim = onNode('node-b') > 0 ? 'node-b' : 'node-a';
      const survivor = workers.find((w) => w !== victim)!;
      expect(onNode(victim)).toBeGreaterThan(0);

      const killedAt = Date.now();
      await cluster.node(victim).process.kill();
      const notReady = await until(
        `${victim} NotReady and tainted unreachable`,
        async () => {
          const n = await getJson<Node>('node', victim);
          const tainted = n.spec?.taints?.some(
            (t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute',
          );
          return readyStatus(n) !== 'True' && tainted === true ? n : undefined;
        },
        40_000,
      );
      const notReadyAfterMs = Date.now() - killedAt;
      expect(readyStatus(notReady)).toBe('Unknown');
      const after = await until(
        `3 Running pods on ${survivor}`,
        async () => {
          const live = await livePods('app=app');
          return live.length === 3 && live.every((p) => p.spec?.nodeName === survivor && isRunningReady(p))
            ? live
            : undefined;
        },
        60_000,
      );
      const replacedAfterMs = Date.now() - killedAt;
      expect(after.map((p) => p.spec?.nodeName)).toEqual([survivor, survivor, survivor]);
      // The evicted pods stay Terminating: no agent is left on their node to confirm them gone.
      const all = await getJson<{ items: Pod[] }>('pods', '-l', 'app=app');
      const evicted = all.items.filter((p) => p.spec?.nodeName === victim);
      expect(evicted).toHaveLength(onNode(victim));
      for (const p of evicted) expect(p.metadata.deletionTimestamp).toBeDefined();
      process.stdout.write(
        `node walkthrough: ${victim} killed; NotReady after ${notReadyAfterMs} ms, ` +
          `its ${onNode(victim)} pod(s) replaced on ${survivor} after ${replacedAfterMs} ms\n`,
      );
    }, 120_000);
  },
);

if (!runsAsRoot) reportRootSkip('walkthroughs.e2e');
