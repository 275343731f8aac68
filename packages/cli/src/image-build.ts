/**
 * The Flotilla container image, assembled from files on this machine with no registry
 * and no Docker build: this checkout's sources and production node_modules, the Node
 * binary running this process and the shared libraries it loads, nats-server, and a
 * static busybox for /bin/sh. The result is a docker-archive (`docker load -i`,
 * `ctr images import`) written by the agent's own tar writer.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { dockerArchive, type TarEntry, writeTar } from '@flotilla/agent';

/** Where the checkout goes inside the image. */
export const imageAppDir = 'opt/flotilla';
const nodeInImage = 'usr/local/bin/node';
const natsInImage = 'usr/sbin/nats-server';

export type BuildImageOptions = {
  /** The checkout's root. */
  readonly root: string;
  /** Image name in the archive, e.g. `localhost/flotilla:dev`. */
  readonly tag: string;
  readonly nodeBinary?: string;
  readonly natsBinary: string;
  /** A statically linked busybox (Debian's busybox-static). */
  readonly busybox?: string;
};

export class ImageBuildError extends Error {}

/** Paths of the production packages `@flotilla/cli` needs, as pnpm resolved them. */
function productionPackages(root: string): string[] {
  const out = execFileSync(
    'pnpm',
    ['--filter', '@flotilla/cli', 'list', '--prod', '--parseable', '--depth', 'Infinity'],
    { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  // Optional packages for other platforms are listed but not installed.
  return out.split('\n').filter((l) => l.startsWith('/') && existsSync(l));
}

/** Shared libraries a dynamically linked file loads (ldd), loader included. */
function sharedLibraries(file: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // static: "not a dynamic executable"
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

class Layer {
  private readonly entries = new Map<string, TarEntry>();

  dir(path: string, mode = 0o755): void {
    if (path === '' || path === '.' || this.entries.has(path)) return;
    this.dir(dirname(path) === '.' ? '' : dirname(path));
    this.entries.set(path, { kind: 'dir', path, mode });
  }

  file(path: string, data: Buffer, mode: number): void {
    this.dir(dirname(path) === '.' ? '' : dirname(path));
    this.entries.set(path, { kind: 'file', path, data, mode });
  }

  symlink(path: string, target: string): void {
    this.dir(dirname(path) === '.' ? '' : dirname(path));
    this.entries.set(path, { kind: 'symlink', path, target });
  }

  /** A host file at `path` in the image (symlinks on the host followed). */
  copy(hostPath: string, path: string): void {
    const st = statSync(hostPath);
    this.file(path, readFileSync(hostPath), st.mode & 0o777);
  }

  /** A host tree at `path`, symlinks kept as symlinks; `skip` drops entries by host path. */
  copyTree(hostDir: string, path: string, skip: (hostPath: string) => boolean = () => false): void {
    this.dir(path);
    for (const name of readdirSync(hostDir)) {
      const host = join(hostDir, name);
      if (skip(host)) continue;
      const st = lstatSync(host);
      if (st.isSymbolicLink()) this.symlink(join(path, name), readlinkSync(host));
      else if (st.isDirectory()) this.copyTree(host, join(path, name), skip);
      else if (st.isFile()) this.file(join(path, name), readFileSync(host), st.mode & 0o777);
    }
  }

  tar(): Buffer {
    return writeTar([...this.entries.values()].sort((a, b) => a.path.localeCompare(b.path)));
  }
}

const wrapper = (script: string) =>
  Buffer.from(`#!/bin/sh\nexec /${nodeInImage} /${imageAppDir}/packages/cli/src/${script} "$@"\n`);

/** The image's single layer, as a tar of its root filesystem (what `docker import` takes). */
export function buildRootfs(options: BuildImageOptions): Buffer {
  const { root } = options;
  const layer = new Layer();
  for (const d of ['tmp', 'etc', 'root', 'var/lib/flotilla', 'etc/flotilla', 'dev', 'proc', 'sys']) {
    layer.dir(d, d === 'tmp' ? 0o1777 : 0o755);
  }
  layer.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'), 0o644);
  layer.file('etc/group', Buffer.from('root:x:0:\n'), 0o644);

  const busybox = options.busybox ?? '/bin/busybox';
  if (sharedLibraries(busybox).length > 0) {
    throw new ImageBuildError(`${busybox} is not static (apt-get install busybox-static)`);
  }
  layer.copy(busybox, 'bin/busybox');
  for (const applet of ['bin/sh', 'usr/bin/env', 'bin/ls', 'bin/cat', 'usr/bin/wget']) {
    layer.symlink(applet, '/bin/busybox');
  }

  const node = options.nodeBinary ?? process.execPath;
  layer.copy(node, nodeInImage);
  layer.copy(options.natsBinary, natsInImage);
  const libraries = new Set(sharedLibraries(node));

  // The workspace packages the CLI needs: sources (no tests) and their node_modules links.
  const packages = productionPackages(root);
  const storeDirs = new Set<string>();
  for (const p of packages) {
    const m = /^(.*\/node_modules\/\.pnpm\/[^/]+)\/node_modules\//.exec(p);
    if (m) storeDirs.add(m[1]!);
  }
  const included = (target: string) =>
    packages.some((p) => target === p || target.startsWith(`${p}/`)) ||
    [...storeDirs].some((d) => target.startsWith(`${d}/`));
  layer.copy(join(root, 'package.json'), join(imageAppDir, 'package.json'));
  for (const p of packages.filter((x) => !x.includes('/node_modules/'))) {
    const inImage = join(imageAppDir, relative(root, p));
    layer.copy(join(p, 'package.json'), join(inImage, 'package.json'));
    layer.copyTree(join(p, 'src'), join(inImage, 'src'), (h) => h.endsWith('.test.ts'));
    layer.copyTree(join(p, 'node_modules'), join(inImage, 'node_modules'), (h) => {
      if (h.endsWith('/.bin')) return true;
      const st = lstatSync(h);
      if (!st.isSymbolicLink()) return false;
      try {
        return !included(realpathSync(h));
      } catch {
        return true; // dangling
      }
    });
  }
  // Each store directory: the package and the links to its own dependencies.
  for (const d of storeDirs) {
    layer.copyTree(join(d, 'node_modules'), join(imageAppDir, relative(root, d), 'node_modules'));
    for (const addon of findFiles(join(d, 'node_modules'), (f) => f.endsWith('.node'))) {
      for (const lib of sharedLibraries(addon)) libraries.add(lib);
    }
  }
  for (const lib of libraries) layer.copy(lib, lib.slice(1));

  layer.file('usr/local/bin/flotilla', wrapper('flotilla.ts'), 0o755);
  layer.file('usr/local/bin/flo', wrapper('flo.ts'), 0o755);
  return layer.tar();
}

function findFiles(dir: string, match: (file: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...findFiles(p, match));
    else if (st.isFile() && match(p)) out.push(p);
  }
  return out;
}

/** The docker-archive of the image: `flotilla` as its command (`--help` unless given one). */
export function buildImage(options: BuildImageOptions): Buffer {
  return dockerArchive(options.tag, buildRootfs(options), ['/usr/local/bin/flotilla', '--help']);
}
