import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type Logger, sleep } from '@flotilla/actor';
import type { Container, Pod, PodSpec, PodStatus } from '@flotilla/api';
import { registerCleanup, tempDir } from '@flotilla/testkit';
import {
  blackholeMarkerFile,
  blackholeRouteMetric,
  ContainerdNode,
  type ContainerdNodeOptions,
  destroyNodeState,
  InMemoryObjectLookup,
  InMemoryPodSource,
  type NodePaths,
  nodePaths,
  PodNetworkConflictError,
  type PodRef,
  type StatusSink,
} from '../src/index.ts';

/** Suites that run real pods need root (containerd, runc, bridges, routes). */
export const isRoot = process.getuid?.() === 0;

/** Prints the one line saying why a root-only suite skips. */
export function reportRootSkip(suite: string): void {
  if (!isRoot)
    process.stdout.write(`${suite}: skipped, needs root (containerd, runc, CNI bridges and routes)\n`);
}

export const testLogger = (): Logger =>
  createLogger({ level: process.env.FLOTILLA_TEST_LOG_LEVEL ?? 'warn' });

/**
 * The API server as far as one agent sees it: the desired pods (with the statuses the
 * agent reported, as the real API would hand them back), and the final delete when the
 * agent says a deleted pod is terminated.
 */
export class TestApi implements StatusSink {
  readonly source = new InMemoryPodSource();
  readonly lookup = new InMemoryObjectLookup();
  /** Every report, in order, with the time it arrived. */
  readonly reports: { readonly atMs: number; readonly name: string; readonly status: PodStatus }[] = [];
  readonly terminated: string[] = [];
  private readonly pods = new Map<string, Pod>();
  private readonly nodeName: string;
  private uidCounter = 0;

  constructor(nodeName: string) {
    this.nodeName = nodeName;
  }

  create(name: string, spec: PodSpec, meta: Partial<Pod['metadata']> = {}): Pod {
    this.uidCounter += 1;
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: 'default',
        uid: `${name}-${process.pid}-${this.uidCounter}`,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...meta,
      },
      spec: { nodeName: this.nodeName, ...spec },
    };
    this.pods.set(name, pod);
    this.source.add(pod);
    return pod;
  }

  /** Graceful deletion, as the API server marks it. */
  delete(name: string, gracePeriodSeconds?: number): void {
    const pod = this.get(name);
    const grace = gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deleting: Pod = {
      ...pod,
      metadata: {
        ...pod.metadata,
        deletionTimestamp: new Date().toISOString(),
        deletionGracePeriodSeconds: grace,
      },
    };
    this.pods.set(name, deleting);
    this.source.update(deleting);
  }

  get(name: string): Pod {
    const pod = this.pods.get(name);
    if (pod === undefined) throw new Error(`no pod ${name}`);
    return pod;
  }

  has(name: string): boolean {
    return this.pods.has(name);
  }

  all(): Pod[] {
    return [...this.pods.values()];
  }

  status(name: string): PodStatus | undefined {
    return this.pods.get(name)?.status;
  }

  podStatus(ref: PodRef, status: PodStatus): void {
    this.reports.push({ atMs: Date.now(), name: ref.name, status });
    const pod = this.pods.get(ref.name);
    if (pod !== undefined && pod.metadata.uid === ref.uid) this.pods.set(ref.name, { ...pod, status });
  }

  podTerminated(ref: PodRef): void {
    const pod = this.pods.get(ref.name);
    if (pod === undefined || pod.metadata.uid !== ref.uid) return;
    this.terminated.push(ref.name);
    this.pods.delete(ref.name);
    this.source.delete(pod);
  }

  /** Polls the pod's status until `check` holds; fails with the last status after `timeoutMs`. */
  async waitFor(
    name: string,
    what: string,
    check: (s: PodStatus) => boolean,
    timeoutMs = 30_000,
  ): Promise<PodStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.pods.get(name)?.status;
      if (s !== undefined && check(s)) return s;
      if (Date.now() > deadline) {
        throw new Error(
          `pod ${name}: not ${what} within ${timeoutMs} ms; last status ${JSON.stringify(s, null, 1)}`,
        );
      }
      await sleep(50);
    }
  }
}

export function container(name: string, script: string, extra: Partial<Container> = {}): Container {
  return { name, image: 'localhost/busybox:1', command: ['sh', '-c', script], ...extra };
}

export const running = (name: string) => (s: PodStatus) =>
  s.containerStatuses?.find((c) => c.name === name)?.state?.running !== undefined;
export const ready = (s: PodStatus) =>
  s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
export const containerOf = (s: PodStatus | undefined, name: string) =>
  s?.containerStatuses?.find((c) => c.name === name);

/** A /24 in 10.240.0.0/16 that no route of this machine covers yet (several suites may run at once). */
export function candidateCIDR(): string {
  const taken = execFileSync('ip', ['route', 'show', 'table', 'main'], { encoding: 'utf8' });
  for (let i = 0; i < 100; i++) {
    const cidr = `10.240.${16 + Math.floor(Math.random() * 224)}.0/24`;
    if (!taken.includes(cidr.replace(/0\/24$/, ''))) return cidr;
  }
  throw new Error('no free /24 left in 10.240.0.0/16');
}

export type TestNode = {
  readonly node: ContainerdNode;
  readonly api: TestApi;
  readonly paths: NodePaths;
  readonly podCIDR: string;
  readonly nodeName: string;
  readonly dataDir: string;
};

/**
 * A real node for one suite: its own containerd, bridge and routes under a fresh
 * directory, all removed when the suite ends (or, failing that, when the process exits).
 */
export async function startTestNode(
  label: string,
  options: Partial<Omit<ContainerdNodeOptions, 'source' | 'statusSink' | 'lookup'>> = {},
): Promise<TestNode> {
  const nodeName = `t-${label}-${process.pid}`;
  const dataDir = tempDir(`a-${label}`);
  const paths = nodePaths(nodeName, dataDir);
  const api = new TestApi(nodeName);
  const logger = testLogger();
  for (let attempt = 0; ; attempt++) {
    const podCIDR = candidateCIDR();
    registerNodeCleanup(paths, podCIDR, logger);
    try {
      const node = await ContainerdNode.start({
        nodeName,
        dataDir,
        podCIDR,
        hostIP: hostAddress(),
        source: api.source,
        statusSink: api,
        lookup: api.lookup,
        logger,
        ...options,
      });
      return { node, api, paths, podCIDR, nodeName, dataDir };
    } catch (err) {
      if (!(err instanceof PodNetworkConflictError) || attempt >= 5) throw err;
    }
  }
}

/** Tears the node's state down when the suite ends; kills what it can synchronously if the process dies. */
export function registerNodeCleanup(paths: NodePaths, podCIDR: string, logger: Logger): void {
  registerCleanup({
    name: `destroy node ${paths.nodeName}`,
    run: () => destroyNodeState(paths, podCIDR, logger),
    onExit: () => {
      const quiet = { stdio: 'ignore' as const };
      try {
        const pid = Number(readFileSync(paths.containerdPidFile, 'utf8'));
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // no containerd
      }
      try {
        const ids = execFileSync('runc', ['--root', paths.runcRoot, 'list', '--quiet'], { encoding: 'utf8' });
        for (const id of ids.split('\n').filter((l) => l !== '')) {
          execFileSync('runc', ['--root', paths.runcRoot, 'delete', '--force', id], quiet);
        }
      } catch {
        // nothing left
      }
      try {
        execFileSync('ip', ['link', 'delete', paths.bridge], quiet);
      } catch {
        // no bridge
      }
      try {
        // Only the route this node installed: another suite may hold the same CIDR's.
        if (readFileSync(join(paths.dataDir, blackholeMarkerFile), 'utf8').trim() === podCIDR) {
          execFileSync(
            'ip',
            ['route', 'delete', 'blackhole', podCIDR, 'metric', String(blackholeRouteMetric)],
            quiet,
          );
        }
      } catch {
        // no route
      }
    },
  });
}

/** The machine's first non-loopback IPv4 address (the node's InternalIP in tests). */
export function hostAddress(): string {
  const out = execFileSync('ip', ['-j', '-4', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' });
  const links = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
  return links.flatMap((l) => l.addr_info ?? []).find((a) => a.local !== undefined)?.local ?? '127.0.0.1';
}

/** GET a URL with a deadline; resolves with the status and body, or the error's message. */
export async function httpGet(
  url: string,
  timeoutMs = 2_000,
): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Collects a log stream into one string. */
export async function collect(stream: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}
