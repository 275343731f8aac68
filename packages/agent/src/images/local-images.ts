import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaError, type Logger, sleep } from '@flotilla/actor';
import { runHost } from '../host-command.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { type TarEntry, writeTar } from './tar-writer.ts';

/** The image pods run in tests and examples: busybox with every applet linked. */
export const busyboxImage = 'localhost/busybox:1';
/** The sandbox (pause) image: it only has to sleep until the sandbox is stopped. */
export const pauseImage = 'localhost/pause:1';

export type LocalImageSpec = {
  readonly name: string;
  /** Applet paths relative to the root (`bin/sh`), linked to /bin/busybox; `all` links every applet. */
  readonly applets: 'all' | readonly string[];
  readonly cmd: readonly string[];
};

export const localImages: readonly LocalImageSpec[] = [
  { name: busyboxImage, applets: 'all', cmd: ['sh'] },
  { name: pauseImage, applets: ['bin/sleep'], cmd: ['/bin/sleep', 'infinity'] },
];

const imagePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How long an imported image may take to show up in the CRI plugin's image store. */
const importVisibleTimeoutMs = 10_000;

export class LocalImageError extends FlotillaError {
  constructor(message: string) {
    super('LocalImage', message);
  }
}

/**
 * The root filesystem layer: a static busybox, its applets as symlinks, and the few
 * files and directories programs expect (/etc/passwd, /tmp, mount points).
 */
export function rootfsLayer(busybox: Buffer, applets: readonly string[]): Buffer {
  const dirs = new Set([
    'bin',
    'dev',
    'etc',
    'home',
    'proc',
    'root',
    'sys',
    'tmp',
    'var',
    'var/www',
    'usr',
    'usr/bin',
    'usr/sbin',
    'sbin',
  ]);
  for (const a of applets) {
    const parts = a.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TarEntry[] = [...dirs]
    .sort()
    .map((d) => ({ kind: 'dir', path: d, mode: d === 'tmp' ? 0o1777 : 0o755 }) as const);
  entries.push(
    { kind: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    {
      kind: 'file',
      path: 'etc/passwd',
      mode: 0o644,
      data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n'),
    },
    { kind: 'file', path: 'etc/group', mode: 0o644, data: Buffer.from('root:x:0:\nnobody:x:65534:\n') },
  );
  for (const a of [...new Set(applets)].sort()) {
    if (a !== 'bin/busybox') entries.push({ kind: 'symlink', path: a, target: '/bin/busybox' });
  }
  return writeTar(entries);
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Docker's name for the machine's architecture, as image configs spell it. */
export function imageArchitecture(arch: string = process.arch): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
}

/**
 * A docker-archive (what `docker save` writes) of a one-layer image: manifest.json,
 * the image config named by its digest, and the layer. `ctr images import` reads it.
 */
export function dockerArchive(name: string, layer: Buffer, cmd: readonly string[]): Buffer {
  const layerDigest = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: imageArchitecture(),
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: { Env: [`PATH=${imagePath}`], Cmd: cmd, WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'flotilla: busybox-static rootfs' }],
    }),
  );
  const configName = `${sha256(config)}.json`;
  const layerName = `${layerDigest}/layer.tar`;
  const manifest = Buffer.from(
    JSON.stringify([{ Config: configName, RepoTags: [name], Layers: [layerName] }]),
  );
  return writeTar([
    { kind: 'file', path: configName, mode: 0o644, data: config },
    { kind: 'dir', path: layerDigest, mode: 0o755 },
    { kind: 'file', path: layerName, mode: 0o644, data: layer },
    { kind: 'file', path: 'manifest.json', mode: 0o644, data: manifest },
  ]);
}

export type EnsureLocalImagesOptions = {
  readonly runtime: Runtime;
  readonly containerdSocket: string;
  /** Where built archives are kept (rebuilt only when busybox or the spec changes). */
  readonly cacheDir: string;
  readonly logger: Logger;
  readonly busyboxPath?: string;
  readonly ctrBinary?: string;
  readonly images?: readonly LocalImageSpec[];
};

/**
 * Makes sure the local images are in containerd's `k8s.io` namespace, where its CRI
 * plugin looks. Idempotent: an image already present is left alone; a missing one is
 * built from busybox-static (no registry is involved) and imported with ctr.
 */
export async function ensureLocalImages(options: EnsureLocalImagesOptions): Promise<void> {
  const log = options.logger.child({ component: 'local-images' });
  const busyboxPath = options.busyboxPath ?? '/bin/busybox';
  let busybox: Buffer | undefined;
  let applets: readonly string[] | undefined;
  for (const spec of options.images ?? localImages) {
    if ((await options.runtime.imageStatus(spec.name)) !== undefined) continue;
    busybox ??= readFileSync(busyboxPath);
    if (spec.applets === 'all') {
      applets ??= (await runHost(busyboxPath, ['--list-full'])).split('\n').filter((l) => l.trim() !== '');
    }
    const links = spec.applets === 'all' ? (applets ?? []) : spec.applets;
    const key = sha256(
      `${sha256(busybox)}\n${imageArchitecture()}\n${JSON.stringify({ ...spec, links })}`,
    ).slice(0, 16);
    const file = join(options.cacheDir, `${spec.name.replace(/[^a-zA-Z0-9.-]/g, '_')}-${key}.tar`);
    if (!existsSync(file)) {
      mkdirSync(options.cacheDir, { recursive: true });
      const archive = dockerArchive(spec.name, rootfsLayer(busybox, links), spec.cmd);
      // Written aside and renamed: a crash never leaves a truncated archive to import.
      writeFileSync(`${file}.tmp`, archive);
      renameSync(`${file}.tmp`, file);
    }
    await runHost(options.ctrBinary ?? 'ctr', [
      '--address',
      options.containerdSocket,
      '--namespace',
      'k8s.io',
      'images',
      'import',
      file,
    ]);
    const deadline = Date.now() + importVisibleTimeoutMs;
    while ((await options.runtime.imageStatus(spec.name)) === undefined) {
      if (Date.now() > deadline) {
        throw new LocalImageError(`imported ${spec.name} but the CRI plugin does not see it`);
      }
      await sleep(50);
    }
    log.info({ image: spec.name, archive: file }, 'imported local image');
  }
}
