import { open } from 'node:fs/promises';
import { CriError } from '../errors.ts';
import type { ContainerStatus, ContainerSummary, Runtime, SandboxSummary } from '../runtime/runtime.ts';
import { lastLogLines } from './container-logs.ts';
import {
  type ContainerKind,
  containerHashAnnotation,
  containerKindAnnotation,
  gracePeriodAnnotation,
  nodeLabel,
  podUidLabel,
  restartCountAnnotation,
  specImageAnnotation,
  terminationMessagePathAnnotation,
  terminationMessagePolicyAnnotation,
} from './labels.ts';

/** A container of a pod as the runtime reports it, with what the kubelet stored on it. */
export type ObservedContainer = ContainerStatus & {
  readonly sandboxId: string;
  readonly kind: ContainerKind;
  readonly restartCount: number;
  readonly hash: string;
  /** The image as the pod spec named it. */
  readonly specImage: string;
  readonly gracePeriodSeconds: number;
  /** For an exited container: its termination message (file, or log tail on error), '' otherwise. */
  readonly terminationMessage: string;
};

export type ObservedSandbox = SandboxSummary & { readonly ip: string };

/** Everything of one pod in the runtime; both lists newest first. */
export type ObservedPod = {
  readonly sandboxes: readonly ObservedSandbox[];
  readonly containers: readonly ObservedContainer[];
};

export const emptyObservedPod: ObservedPod = { sandboxes: [], containers: [] };

/** kubelet reads at most this much of a termination message file. */
const maxTerminationMessageBytes = 4096;

/** The latest instance of each container name (the list is newest first). */
export function latestByName(
  containers: readonly ObservedContainer[],
  kind: ContainerKind,
): Map<string, ObservedContainer> {
  const out = new Map<string, ObservedContainer>();
  for (const c of containers) if (c.kind === kind && !out.has(c.name)) out.set(c.name, c);
  return out;
}

/** The instance before the latest one, for lastState. */
export function previousInstance(
  containers: readonly ObservedContainer[],
  kind: ContainerKind,
  name: string,
): ObservedContainer | undefined {
  let seen = false;
  for (const c of containers) {
    if (c.kind !== kind || c.name !== name) continue;
    if (seen) return c;
    seen = true;
  }
  return undefined;
}

function byNewest<T extends { readonly createdAtMs: number }>(key: (t: T) => number): (a: T, b: T) => number {
  return (a, b) => key(b) - key(a) || b.createdAtMs - a.createdAtMs;
}

/**
 * Reads a pod's sandboxes and containers from the runtime. The status of an exited
 * container never changes, so it (and its termination message) is read once and kept;
 * so is a sandbox's IP.
 */
export class RuntimeObserver {
  private readonly runtime: Runtime;
  private readonly nodeName: string;
  private readonly exited = new Map<string, ObservedContainer>();
  private readonly sandboxIPs = new Map<string, string>();

  constructor(runtime: Runtime, nodeName: string) {
    this.runtime = runtime;
    this.nodeName = nodeName;
  }

  async observePod(uid: string): Promise<ObservedPod> {
    const labels = { [podUidLabel]: uid, [nodeLabel]: this.nodeName };
    const [sandboxes, containers] = await Promise.all([
      this.runtime.listPodSandboxes({ labels }),
      this.runtime.listContainers({ labels }),
    ]);
    const observedSandboxes = await Promise.all(sandboxes.map((s) => this.withIP(s)));
    const observed = (await Promise.all(containers.map((c) => this.status(c)))).filter(
      (c): c is ObservedContainer => c !== undefined,
    );
    return {
      sandboxes: observedSandboxes.sort(byNewest((s) => s.metadata.attempt)),
      containers: observed.sort(byNewest((c) => c.restartCount)),
    };
  }

  /** Drops what is cached about objects that were removed. */
  forget(ids: Iterable<string>): void {
    for (const id of ids) {
      this.exited.delete(id);
      this.sandboxIPs.delete(id);
    }
  }

  private async withIP(s: SandboxSummary): Promise<ObservedSandbox> {
    if (s.state !== 'ready') return { ...s, ip: this.sandboxIPs.get(s.id) ?? '' };
    let ip = this.sandboxIPs.get(s.id);
    if (ip === undefined) {
      try {
        ip = (await this.runtime.podSandboxStatus(s.id)).ip;
        this.sandboxIPs.set(s.id, ip);
      } catch (err) {
        if (!(err instanceof CriError && err.status === 'NotFound')) throw err;
        ip = '';
      }
    }
    return { ...s, ip };
  }

  private async status(c: ContainerSummary): Promise<ObservedContainer | undefined> {
    const cached = this.exited.get(c.id);
    if (cached !== undefined) return cached;
    let status: ContainerStatus;
    try {
      status = await this.runtime.containerStatus(c.id);
    } catch (err) {
      // Removed between the list and this call.
      if (err instanceof CriError && err.status === 'NotFound') return undefined;
      throw err;
    }
    const a = status.annotations;
    const exited = status.state === 'exited';
    const observed: ObservedContainer = {
      ...status,
      sandboxId: c.sandboxId,
      kind: a[containerKindAnnotation] === 'init' ? 'init' : 'regular',
      restartCount: Number.parseInt(a[restartCountAnnotation] ?? '0', 10) || 0,
      hash: a[containerHashAnnotation] ?? '',
      specImage: a[specImageAnnotation] ?? status.image,
      gracePeriodSeconds: Number.parseInt(a[gracePeriodAnnotation] ?? '30', 10),
      terminationMessage: exited ? await terminationMessage(status) : '',
    };
    if (exited) this.exited.set(c.id, observed);
    return observed;
  }
}

/**
 * What the container left in its termination-message file; with FallbackToLogsOnError
 * and a failure, the tail of its log when the file is empty.
 * https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/
 */
async function terminationMessage(status: ContainerStatus): Promise<string> {
  const path = status.annotations[terminationMessagePathAnnotation];
  const mount = status.mounts.find((m) => m.containerPath === path);
  let text = '';
  if (mount !== undefined) {
    try {
      const fh = await open(mount.hostPath, 'r');
      try {
        const buf = Buffer.alloc(maxTerminationMessageBytes);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch {
      // the pod's directory may be gone already
    }
  }
  const policy = status.annotations[terminationMessagePolicyAnnotation];
  if (text === '' && policy === 'FallbackToLogsOnError' && status.exitCode !== 0 && status.logPath !== '') {
    text = await lastLogLines(status.logPath);
  }
  return text;
}
