// Stock kubectl, the oldest and the newest these machines ship, against a 3-replica
// control plane with nothing but --kubeconfig: the verbs people use every day.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ControlPlane, tempDir } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const kubectlDir = '/usr/lib/google-cloud-sdk/bin';
const versions = ['1.27', '1.33'] as const;
const missing = versions.filter((v) => !existsSync(join(kubectlDir, `kubectl.${v}`)));

let cp: ControlPlane;
const dir = tempDir('kubectl');

type Run = { readonly code: number; readonly stdout: string; readonly stderr: string };

function kubectl(version: string, args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      join(kubectlDir, `kubectl.${version}`),
      ['--kubeconfig', cp.kubeconfig, ...args],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

async function ok(version: string, args: readonly string[], stdin?: string): Promise<string> {
  const r = await kubectl(version, args, stdin);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function manifest(ns: string, replicas: number, greeting: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
  labels: {app: web}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        resources:
          requests: {cpu: 100m, memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ${ns}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: ${ns}
data:
  greeting: ${greeting}
`;
}

function configMap(name: string, data: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

function replicaSet(ns: string, deploymentUid: string, revision: number): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-r${revision}`,
      namespace: ns,
      labels: { app: 'web', 'pod-template-hash': `h${revision}` },
      annotations: {
        'deployment.kubernetes.io/revision': String(revision),
        'kubernetes.io/change-cause': `rollout number ${revision}`,
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: 'web',
          uid: deploymentUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web', 'pod-template-hash': `h${revision}` } },
      template: {
        metadata: { labels: { app: 'web', 'pod-template-hash': `h${revision}` } },
        spec: { containers: [{ name: 'nginx', image: `nginx:1.2${revision}` }] },
      },
    },
  });
}

beforeAll(async () => {
  if (missing.length > 0) return;
  cp = await ControlPlane.start();
});

afterAll(async () => {
  await cp?.stop();
});

describe.skipIf(missing.length > 0)('kubectl', () => {
  if (missing.length > 0) {
    // biome-ignore lint/suspicious/noConsole: the reason a suite is skipped must be printed
    console.warn(
      `skipping the kubectl suite: ${missing.map((v) => `kubectl.${v}`).join(', ')} not in ${kubectlDir}`,
    );
  }

  it('builds the same objects from imperative commands, JSON (1.27) or protobuf (1.33) bodies', async () => {
    const commands = (ns: string): readonly (readonly string[])[] => [
      ['create', 'namespace', ns],
      ['-n', ns, 'create', 'configmap', 'cm', '--from-literal=a=b', '--from-literal=c=d'],
      ['-n', ns, 'create', 'secret', 'generic', 's', '--from-literal=k=v'],
      ['-n', ns, 'create', 'deployment', 'web', '--image=nginx:1.25', '--replicas=2', '--port=80'],
      ['-n', ns, 'create', 'service', 'nodeport', 'np', '--tcp=81:8081'],
      [
        '-n',
        ns,
        'run',
        'runner',
        '--image=busybox',
        '--labels=a=b',
        '--env=X=Y',
        '--port=8080',
        '--',
        'sleep',
        '60',
      ],
      ['-n', ns, 'expose', 'deployment', 'web', '--port=80', '--target-port=8080', '--name=web-svc'],
    ];
    const objects = async (ns: string) => {
      const out: Record<string, unknown> = {};
      for (const what of ['cm/cm', 'secret/s', 'deploy/web', 'svc/np', 'pod/runner', 'svc/web-svc']) {
        const o = JSON.parse(await ok('1.33', ['-n', ns, 'get', what, '-o', 'json']));
        for (const k of ['uid', 'creationTimestamp', 'resourceVersion', 'namespace']) delete o.metadata[k];
        delete o.spec?.clusterIP;
        delete o.spec?.clusterIPs;
        for (const port of o.spec?.ports ?? []) delete port.nodePort;
        out[what] = o;
      }
      return out;
    };
    for (const [version, ns] of [
      ['1.27', 'imperative-json'],
      ['1.33', 'imperative-protobuf'],
    ] as const) {
      for (const args of commands(ns)) await ok(version, args);
    }
    expect(await objects('imperative-protobuf')).toEqual(await objects('imperative-json'));
  });

  describe.each(versions)('%s', (version) => {
    const ns = `shop-${version.replace('.', '')}`;
    const file = join(dir, `${ns}.yaml`);

    it('applies a multi-document manifest, and re-applies it after an edit', async () => {
      writeFileSync(file, manifest(ns, 2, 'hello'));
      const first = await ok(version, ['apply', '-f', file]);
      expect(first.trim().split('\n')).toEqual([
        `namespace/${ns} created`,
        'deployment.apps/web created',
        'service/web created',
        'configmap/web-config created',
      ]);
      writeFileSync(file, manifest(ns, 3, 'bonjour'));
      const second = await ok(version, ['apply', '-f', file]);
      expect(second.trim().split('\n')).toEqual([
        `namespace/${ns} unchanged`,
        'deployment.apps/web configured',
        'service/web unchanged',
        'configmap/web-config configured',
      ]);
      const cm = JSON.parse(await ok(version, ['-n', ns, 'get', 'configmap', 'web-config', '-o', 'json']));
      expect(cm.data).toEqual({ greeting: 'bonjour' });
      const deploy = JSON.parse(await ok(version, ['-n', ns, 'get', 'deployment', 'web', '-o', 'json']));
      expect(deploy.spec.replicas).toBe(3);
      expect(deploy.spec.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: '25%' });
    });

    it('gets with -o wide, yaml, json, -l, -A and --field-selector', async () => {
      const wide = await ok(version, ['-n', ns, 'get', 'deployments', '-o', 'wide']);
      expect(wide).toMatch(/NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR/);
      expect(wide).toMatch(/web\s+0\/3\s+0\s+0\s+\S+\s+nginx\s+nginx:1\.25\s+app=web/);
      const svc = await ok(version, ['-n', ns, 'get', 'svc', 'web', '-o', 'wide']);
      expect(svc).toMatch(/web\s+NodePort\s+10\.96\.\d+\.\d+\s+<none>\s+80:3\d{4}\/TCP/);
      const yaml = await ok(version, ['-n', ns, 'get', 'svc', 'web', '-o', 'yaml']);
      expect(yaml).toMatch(/nodePort: 3\d{4}/);
      const json = JSON.parse(await ok(version, ['-n', ns, 'get', 'cm', '-o', 'json']));
      expect(json.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['web-config']);
      expect(await ok(version, ['-n', ns, 'get', 'deploy', '-l', 'app=web', '-o', 'name'])).toBe(
        'deployment.apps/web\n',
      );
      expect(await ok(version, ['-n', ns, 'get', 'deploy', '-l', 'app=nope'])).toBe('');
      const all = await ok(version, ['get', 'deployments', '-A']);
      expect(all).toMatch(new RegExp(`${ns}\\s+web\\s+0/3`));
      const byField = await ok(version, [
        'get',
        'cm',
        '-A',
        '--field-selector',
        `metadata.namespace=${ns}`,
        '-o',
        'name',
      ]);
      expect(byField).toBe('configmap/web-config\n');
    });

    it('labels, annotates, scales, and patches in all three ways', async () => {
      await ok(version, ['-n', ns, 'label', 'deployment', 'web', 'tier=frontend']);
      await ok(version, ['-n', ns, 'annotate', 'deployment', 'web', 'owner=team-a']);
      await ok(version, ['-n', ns, 'scale', 'deployment', 'web', '--replicas=5']);
      await ok(version, [
        '-n',
        ns,
        'patch',
        'deployment',
        'web',
        '-p',
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}',
      ]);
      await ok(version, [
        '-n',
        ns,
        'patch',
        'cm',
        'web-config',
        '--type=merge',
        '-p',
        '{"data":{"extra":"1"}}',
      ]);
      await ok(version, [
        '-n',
        ns,
        'patch',
        'svc',
        'web',
        '--type=json',
        '-p',
        '[{"op":"add","path":"/metadata/labels","value":{"patched":"json"}}]',
      ]);
      const d = JSON.parse(await ok(version, ['-n', ns, 'get', 'deploy', 'web', '-o', 'json']));
      expect(d.metadata.labels).toEqual({ app: 'web', tier: 'frontend' });
      expect(d.metadata.annotations.owner).toBe('team-a');
      expect(d.spec.replicas).toBe(5);
      // The strategic merge patch merged the container by name: its port stayed.
      expect(d.spec.template.spec.containers).toMatchObject([
        { name: 'nginx', image: 'nginx:1.26', ports: [{ containerPort: 80 }] },
      ]);
      const cm = JSON.parse(await ok(version, ['-n', ns, 'get', 'cm', 'web-config', '-o', 'json']));
      expect(cm.data).toEqual({ greeting: 'bonjour', extra: '1' });
      expect(await ok(version, ['-n', ns, 'get', 'svc', '-l', 'patched=json', '-o', 'name'])).toBe(
        'service/web\n',
      );
    });

    it('describes, with the events recorded about the object', async () => {
      const uid = (
        await ok(version, ['-n', ns, 'get', 'deploy', 'web', '-o', 'jsonpath={.metadata.uid}'])
      ).trim();
      const event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'web.scaled', namespace: ns },
        involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: ns, uid },
        reason: 'ScalingReplicaSet',
        message: 'Scaled up replica set web-r2 to 5',
        type: 'Normal',
        source: { component: 'deployment-controller' },
        firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        count: 1,
      };
      await ok(version, ['create', '-f', '-'], JSON.stringify(event));
      const described = await ok(version, ['-n', ns, 'describe', 'deployment', 'web']);
      expect(described).toMatch(/Replicas:\s+5 desired/);
      expect(described).toMatch(
        /Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-r2 to 5/,
      );
      expect(await ok(version, ['-n', ns, 'describe', 'svc', 'web'])).toMatch(
        /NodePort:\s+<unset>\s+3\d{4}\/TCP/,
      );
    });

    it('shows rollout history from the ReplicaSets a deployment owns', async () => {
      const uid = (
        await ok(version, ['-n', ns, 'get', 'deploy', 'web', '-o', 'jsonpath={.metadata.uid}'])
      ).trim();
      for (const revision of [1, 2]) await ok(version, ['create', '-f', '-'], replicaSet(ns, uid, revision));
      const history = await ok(version, ['-n', ns, 'rollout', 'history', 'deployment/web']);
      expect(history).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+rollout number 1\n2\s+rollout number 2/);
      expect(await ok(version, ['-n', ns, 'rollout', 'history', 'deployment/web', '--revision=2'])).toContain(
        'nginx:1.22',
      );
    });

    it('refuses a stale replace and bad input with the server error', async () => {
      const current = await ok(version, ['-n', ns, 'get', 'cm', 'web-config', '-o', 'json']);
      await ok(version, ['-n', ns, 'label', 'cm', 'web-config', 'touched=yes']);
      const stale = await kubectl(version, ['replace', '-f', '-'], current);
      expect(stale.code).not.toBe(0);
      expect(stale.stderr).toContain(
        'the object has been modified; please apply your changes to the latest version',
      );
      const bad = await kubectl(
        version,
        ['-n', ns, 'apply', '-f', '-'],
        JSON.stringify(configMap('Bad_Name')),
      );
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value/);
    });

    it('watches with get -w as changes happen', async () => {
      const watcher: ChildProcess = spawn(join(kubectlDir, `kubectl.${version}`), [
        '--kubeconfig',
        cp.kubeconfig,
        '-n',
        ns,
        'get',
        'configmaps',
        '-w',
      ]);
      let output = '';
      watcher.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
      });
      try {
        const waitFor = async (pattern: RegExp) => {
          for (let i = 0; i < 300 && !pattern.test(output); i++) await delay(50);
          expect(output).toMatch(pattern);
        };
        await waitFor(/web-config\s+\d+/);
        await ok(version, ['-n', ns, 'create', '-f', '-'], JSON.stringify(configMap('watched', { a: 'b' })));
        await waitFor(/\nwatched\s+1\s+/);
        await ok(version, ['-n', ns, 'patch', 'cm', 'watched', '--type=merge', '-p', '{"data":{"c":"d"}}']);
        await waitFor(/\nwatched\s+2\s+/);
        expect(output.split('\n')[0]).toMatch(/^NAME\s+DATA\s+AGE$/);
        expect(output.match(/NAME\s+DATA/g)).toHaveLength(1);
      } finally {
        watcher.kill();
      }
    });

    it('deletes with cascading: foreground and orphan leave what the garbage collector needs', async () => {
      await ok(version, ['-n', ns, 'delete', 'deployment', 'web', '--cascade=foreground', '--wait=false']);
      const d = JSON.parse(await ok(version, ['-n', ns, 'get', 'deploy', 'web', '-o', 'json']));
      expect(d.metadata.finalizers).toEqual(['foregroundDeletion']);
      expect(d.metadata.deletionTimestamp).toBeTruthy();
      await ok(version, ['-n', ns, 'delete', 'rs', 'web-r1', '--cascade=orphan', '--wait=false']);
      const rs = JSON.parse(await ok(version, ['-n', ns, 'get', 'rs', 'web-r1', '-o', 'json']));
      expect(rs.metadata.finalizers).toEqual(['orphan']);
      expect(await ok(version, ['-n', ns, 'delete', 'rs', 'web-r2'])).toBe(
        'replicaset.apps "web-r2" deleted\n',
      );
      expect(await ok(version, ['-n', ns, 'delete', 'svc', 'web'])).toBe('service "web" deleted\n');
      const left = await ok(version, ['-n', ns, 'get', 'rs,svc', '-o', 'name']);
      expect(left).toBe('replicaset.apps/web-r1\n');
    });
  });
});
