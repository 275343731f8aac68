import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DownwardAPIVolumeFile, KeyToPath, Pod, Volume } from '@flotilla/api';
import { parseQuantity, quantityValue } from '@flotilla/api';
import { ContainerConfigError, VolumeError } from '../errors.ts';
import { runHost } from '../host-command.ts';
import { isSafePayloadPath, type Payload, type PayloadFile, writePayload } from './atomic-writer.ts';
import { fieldValue, resourceValue } from './env.ts';
import type { ObjectLookup } from './pod-source.ts';

/** Where a pod's volume is on the host, for the containers' bind mounts. */
export type VolumeSource = { readonly hostPath: string; readonly readOnly: boolean };
export type PodVolumes = ReadonlyMap<string, VolumeSource>;

/** What the downward API needs to know beyond the pod object. */
export type DownwardContext = {
  readonly nodeName: string;
  readonly hostIP: string;
  readonly podIP: string;
  readonly nodeAllocatable: { readonly cpuMilli: number; readonly memoryBytes: number };
};

/**
 * Prepares a pod's volumes on the node and holds the files the kubelet writes for a
 * pod (its /etc/hosts, containers' termination-message files).
 */
export interface VolumeManager {
  /** Sets up every volume (idempotent: an emptyDir that exists keeps its data). Throws `VolumeError`. */
  setUpPod(pod: Pod, downward: DownwardContext): Promise<PodVolumes>;
  /** Writes a file under the pod's directory and returns its host path. */
  writePodFile(uid: string, relPath: string, content: string | Buffer, mode: number): Promise<string>;
  /** A fresh, empty file for one container's termination message. */
  terminationMessageFile(uid: string, containerName: string): Promise<string>;
  /** Unmounts and removes everything of the pod. */
  tearDownPod(uid: string): Promise<void>;
  /** Creates a directory the runtime expects to exist (a pod's log directory). */
  ensureDir(path: string): Promise<void>;
  /** Removes a directory the kubelet made (a pod's log directory). */
  removeDir(path: string): Promise<void>;
  /** The uids of pods that have a directory (to find leftovers of pods long gone). */
  podsOnDisk(): Promise<readonly string[]>;
}

const pluginDirs = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

/** The default mode of files in configMap, secret, downwardAPI and projected volumes. */
const defaultFileMode = 0o644;

/** Volumes on the node's disk under `<podsDir>/<uid>/volumes/<plugin>/<name>`, as kubelet lays them out. */
export class HostVolumeManager implements VolumeManager {
  private readonly podsDir: string;
  private readonly lookup: ObjectLookup;

  constructor(podsDir: string, lookup: ObjectLookup) {
    this.podsDir = podsDir;
    this.lookup = lookup;
  }

  podDir(uid: string): string {
    return join(this.podsDir, uid);
  }

  async setUpPod(pod: Pod, downward: DownwardContext): Promise<PodVolumes> {
    const uid = pod.metadata.uid ?? '';
    const out = new Map<string, VolumeSource>();
    for (const v of pod.spec?.volumes ?? []) {
      try {
        out.set(v.name, await this.setUp(pod, uid, v, downward));
      } catch (err) {
        if (err instanceof VolumeError) throw err;
        throw new VolumeError(v.name, err instanceof Error ? err.message : String(err));
      }
    }
    return out;
  }

  private async setUp(pod: Pod, uid: string, v: Volume, downward: DownwardContext): Promise<VolumeSource> {
    const namespace = pod.metadata.namespace ?? 'default';
    const dirOf = (plugin: keyof typeof pluginDirs) =>
      join(this.podDir(uid), 'volumes', pluginDirs[plugin], v.name);
    if (v.emptyDir !== undefined) {
      const dir = dirOf('emptyDir');
      await mkdir(dir, { recursive: true });
      // emptyDir is world-writable, so containers running as any user can use it.
      await chmod(dir, 0o777);
      if (v.emptyDir.medium === 'Memory' && !(await isMountPoint(dir))) {
        const size =
          v.emptyDir.sizeLimit === undefined
            ? []
            : ['-o', `size=${quantityValue(parseQuantity(v.emptyDir.sizeLimit))}`];
        await runHost('mount', ['-t', 'tmpfs', ...size, 'tmpfs', dir]);
        await chmod(dir, 0o777);
      }
      return { hostPath: dir, readOnly: false };
    }
    if (v.hostPath !== undefined) {
      await checkHostPath(v.name, v.hostPath.path, v.hostPath.type ?? '');
      return { hostPath: v.hostPath.path, readOnly: false };
    }
    if (v.configMap !== undefined) {
      const src = v.configMap;
      const name = src.name ?? '';
      const cm = await this.lookup.configMap(namespace, name);
      if (cm === undefined && src.optional !== true)
        throw new VolumeError(v.name, `configmap "${name}" not found`);
      const data = new Map<string, Buffer>();
      for (const [k, val] of Object.entries(cm?.data ?? {})) data.set(k, Buffer.from(val, 'utf8'));
      for (const [k, val] of Object.entries(cm?.binaryData ?? {})) data.set(k, Buffer.from(val, 'base64'));
      const payload = keyedPayload(
        v.name,
        'configmap',
        data,
        src.items,
        src.defaultMode ?? defaultFileMode,
        src.optional === true,
      );
      const dir = dirOf('configMap');
      await writePayload(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (v.secret !== undefined) {
      const src = v.secret;
      const name = src.secretName ?? '';
      const secret = await this.lookup.secret(namespace, name);
      if (secret === undefined && src.optional !== true)
        throw new VolumeError(v.name, `secret "${name}" not found`);
      const data = new Map<string, Buffer>();
      for (const [k, val] of Object.entries(secret?.data ?? {})) data.set(k, Buffer.from(val, 'base64'));
      const payload = keyedPayload(
        v.name,
        'secret',
        data,
        src.items,
        src.defaultMode ?? defaultFileMode,
        src.optional === true,
      );
      const dir = dirOf('secret');
      await writePayload(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (v.downwardAPI !== undefined) {
      const payload = downwardPayload(
        v.name,
        pod,
        v.downwardAPI.items ?? [],
        v.downwardAPI.defaultMode ?? defaultFileMode,
        downward,
      );
      const dir = dirOf('downwardAPI');
      await writePayload(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (v.projected !== undefined) {
      const payload = new Map<string, PayloadFile>();
      const mode = v.projected.defaultMode ?? defaultFileMode;
      for (const source of v.projected.sources ?? []) {
        let part: Payload = new Map();
        if (source.configMap !== undefined) {
          const name = source.configMap.name ?? '';
          const cm = await this.lookup.configMap(namespace, name);
          if (cm === undefined && source.configMap.optional !== true) {
            throw new VolumeError(v.name, `configmap "${name}" not found`);
          }
          const data = new Map(
            Object.entries(cm?.data ?? {}).map(([k, val]) => [k, Buffer.from(val, 'utf8')]),
          );
          part = keyedPayload(
            v.name,
            'configmap',
            data,
            source.configMap.items,
            mode,
            source.configMap.optional === true,
          );
        } else if (source.secret !== undefined) {
          const name = source.secret.name ?? '';
          const s = await this.lookup.secret(namespace, name);
          if (s === undefined && source.secret.optional !== true)
            throw new VolumeError(v.name, `secret "${name}" not found`);
          const data = new Map(
            Object.entries(s?.data ?? {}).map(([k, val]) => [k, Buffer.from(val, 'base64')]),
          );
          part = keyedPayload(
            v.name,
            'secret',
            data,
            source.secret.items,
            mode,
            source.secret.optional === true,
          );
        } else if (source.downwardAPI !== undefined) {
          part = downwardPayload(v.name, pod, source.downwardAPI.items ?? [], mode, downward);
        } else if (source.serviceAccountToken !== undefined) {
          throw new VolumeError(v.name, 'serviceAccountToken projections are not supported by this agent');
        }
        for (const [k, f] of part) payload.set(k, f);
      }
      const dir = dirOf('projected');
      await writePayload(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (v.persistentVolumeClaim !== undefined) {
      const claimName = v.persistentVolumeClaim.claimName;
      const claim = await this.lookup.persistentVolumeClaim(namespace, claimName);
      if (claim === undefined)
        throw new VolumeError(v.name, `persistentvolumeclaim "${claimName}" not found`);
      const pvName = claim.spec?.volumeName;
      if (!pvName || claim.status?.phase !== 'Bound') {
        throw new VolumeError(v.name, `persistentvolumeclaim "${claimName}" is not bound`);
      }
      const pv = await this.lookup.persistentVolume(pvName);
      if (pv === undefined) throw new VolumeError(v.name, `persistentvolume "${pvName}" not found`);
      const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
      if (path === undefined) {
        throw new VolumeError(
          v.name,
          `persistentvolume "${pvName}" is neither hostPath nor local; this node cannot mount it`,
        );
      }
      // A local PV's directory must exist (the admin made it); a hostPath PV follows its type.
      await checkHostPath(v.name, path, pv.spec?.hostPath?.type ?? (pv.spec?.local ? 'Directory' : ''));
      return { hostPath: path, readOnly: v.persistentVolumeClaim.readOnly === true };
    }
    throw new VolumeError(v.name, 'volume type not supported by this agent');
  }

  async writePodFile(uid: string, relPath: string, content: string | Buffer, mode: number): Promise<string> {
    const path = join(this.podDir(uid), relPath);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, content);
    await chmod(`${path}.tmp`, mode);
    await rename(`${path}.tmp`, path);
    return path;
  }

  async terminationMessageFile(uid: string, containerName: string): Promise<string> {
    const path = join(this.podDir(uid), 'containers', containerName, randomBytes(4).toString('hex'));
    await mkdir(dirname(path), { recursive: true });
    await (await open(path, 'w')).close();
    // Writable by whatever user the container runs as.
    await chmod(path, 0o666);
    return path;
  }

  async tearDownPod(uid: string): Promise<void> {
    const dir = this.podDir(uid);
    // Unmount first (memory-backed emptyDirs): removing files must never reach into a mount.
    for (const mount of (await mountsUnder(dir)).sort((a, b) => b.length - a.length)) {
      await runHost('umount', [mount]);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async podsOnDisk(): Promise<readonly string[]> {
    try {
      return await readdir(this.podsDir);
    } catch {
      return [];
    }
  }

  async ensureDir(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }

  async removeDir(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * Turns a ConfigMap's or Secret's data into files: every key, or only the listed items
 * (a listed key that does not exist is an error unless the source is optional).
 */
function keyedPayload(
  volume: string,
  kind: 'configmap' | 'secret',
  data: ReadonlyMap<string, Buffer>,
  items: readonly KeyToPath[] | undefined,
  defaultMode: number,
  optional: boolean,
): Payload {
  const out = new Map<string, PayloadFile>();
  if (items === undefined || items.length === 0) {
    for (const [k, v] of data) out.set(k, { data: v, mode: defaultMode });
  } else {
    for (const item of items) {
      const v = data.get(item.key);
      if (v === undefined) {
        if (optional) continue;
        throw new VolumeError(volume, `${kind} references non-existent config key: ${item.key}`);
      }
      out.set(item.path, { data: v, mode: item.mode ?? defaultMode });
    }
  }
  for (const path of out.keys()) {
    if (!isSafePayloadPath(path)) throw new VolumeError(volume, `invalid path ${JSON.stringify(path)}`);
  }
  return out;
}

function downwardPayload(
  volume: string,
  pod: Pod,
  items: readonly DownwardAPIVolumeFile[],
  defaultMode: number,
  ctx: DownwardContext,
): Payload {
  const out = new Map<string, PayloadFile>();
  for (const item of items) {
    if (!isSafePayloadPath(item.path))
      throw new VolumeError(volume, `invalid path ${JSON.stringify(item.path)}`);
    let value: string;
    try {
      if (item.fieldRef !== undefined) {
        value = fieldValue(pod, item.fieldRef, { ...ctx, podIPs: ctx.podIP === '' ? [] : [ctx.podIP] });
      } else if (item.resourceFieldRef !== undefined) {
        const self = pod.spec?.containers[0];
        if (self === undefined) continue;
        value = resourceValue(pod, self, item.resourceFieldRef, ctx);
      } else continue;
    } catch (err) {
      if (err instanceof ContainerConfigError) throw new VolumeError(volume, err.message);
      throw err;
    }
    out.set(item.path, { data: Buffer.from(value), mode: item.mode ?? defaultMode });
  }
  return out;
}

/** hostPath's type checks. https://kubernetes.io/docs/concepts/storage/volumes/#hostpath */
async function checkHostPath(volume: string, path: string, type: string): Promise<void> {
  if (!path.startsWith('/')) throw new VolumeError(volume, `hostPath ${path} is not absolute`);
  const st = await stat(path).catch(() => undefined);
  const fail = (what: string): never => {
    throw new VolumeError(volume, `hostPath type check failed: ${path} is not ${what}`);
  };
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (st === undefined) {
        await mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      if (!st.isDirectory()) fail('a directory');
      return;
    case 'Directory':
      if (st === undefined || !st.isDirectory()) fail('a directory');
      return;
    case 'FileOrCreate':
      if (st === undefined) {
        // The parent is not created, as Kubernetes documents.
        await writeFile(path, '', { flag: 'wx', mode: 0o644 }).catch((err) => {
          throw new VolumeError(volume, `cannot create ${path}: ${err instanceof Error ? err.message : err}`);
        });
        return;
      }
      if (!st.isFile()) fail('a file');
      return;
    case 'File':
      if (st === undefined || !st.isFile()) fail('a file');
      return;
    case 'Socket':
      if (st === undefined || !st.isSocket()) fail('a socket file');
      return;
    case 'CharDevice':
      if (st === undefined || !st.isCharacterDevice()) fail('a character device');
      return;
    case 'BlockDevice':
      if (st === undefined || !st.isBlockDevice()) fail('a block device');
      return;
    default:
      throw new VolumeError(volume, `unknown hostPath type ${type}`);
  }
}

/** Mount points at or below `dir`, from /proc/self/mountinfo. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const mountPoint = field.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    if (mountPoint === dir || mountPoint.startsWith(`${dir}/`)) out.push(mountPoint);
  }
  return out;
}

async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(dir);
}

/** No disk, no mounts: the volumes of pods on simulated nodes. */
export class NoVolumeManager implements VolumeManager {
  async setUpPod(pod: Pod): Promise<PodVolumes> {
    const uid = pod.metadata.uid ?? '';
    return new Map(
      (pod.spec?.volumes ?? []).map((v) => [v.name, { hostPath: `/fake/${uid}/${v.name}`, readOnly: false }]),
    );
  }
  async writePodFile(uid: string, relPath: string): Promise<string> {
    return `/fake/${uid}/${relPath}`;
  }
  async terminationMessageFile(uid: string, containerName: string): Promise<string> {
    return `/fake/${uid}/containers/${containerName}`;
  }
  async tearDownPod(): Promise<void> {}
  async ensureDir(): Promise<void> {}
  async removeDir(): Promise<void> {}
  async podsOnDisk(): Promise<readonly string[]> {
    return [];
  }
}
