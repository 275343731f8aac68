// The container image fault runs use, assembled from files on this machine and imported
// into the Docker daemon (`docker import` of a root filesystem): no registry, no base image.
// It holds the project's Node binary, nats-server, the shared libraries both need, and the
// part of the repository a store member runs (the workspace packages it imports and the
// production dependencies they resolve, pnpm's symlinks kept as they are).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ContainerRuntimeClient } from 'testcontainers';
import { natsServerBinary } from '../../nats.ts';
import { type TarEntry, tarStream } from './tar.ts';

type Dockerode = ContainerRuntimeClient['container']['dockerode'];

export const chaosImageRepo = 'flotilla-chaos';
/** Where the repository lives inside the image. */
export const imageRepoRoot = '/flotilla';
export const imageNode = '/usr/local/bin/node';
export const imageNatsServer = '/usr/local/bin/nats-server';
/** The store member's entry point inside the image. */
export const imageMemberMain = `${imageRepoRoot}/packages/testkit/src/store/store-member-main.ts`;
/** Bump when the layout changes, so an old image with the same inputs is not reused. */
const layoutVersion = 1;

const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));

/**
 * Workspace packages a host's processes load (a store member; an API server, controller
 * manager and scheduler for a control plane), and which of their files they need.
 */
const workspace: readonly {
  readonly dir: string;
  readonly files: readonly string[];
  readonly deps?: readonly string[];
}[] = [
  { dir: 'packages/actor', files: ['src'] },
  { dir: 'packages/raft', files: ['src'] },
  { dir: 'packages/store', files: ['src'] },
  { dir: 'packages/api', files: ['src'] },
  { dir: 'packages/apiserver', files: ['src'] },
  // The controller manager and scheduler run from the controllers' own process fixtures.
  { dir: 'packages/controllers', files: ['src', 'test/fixtures'] },
  {
    dir: 'packages/testkit',
    files: ['src/store/store-member-main.ts'],
    deps: ['@flotilla/actor', '@flotilla/store'],
  },
];

/** Where a file of the repository is inside the image. */
export function inImagePath(file: string): string {
  return `/${inImage(file)}`;
}

type Collected = { entries: Map<string, TarEntry>; fingerprint: string[] };

function add(c: Collected, entry: TarEntry): void {
  if (c.entries.has(entry.path)) return;
  c.entries.set(entry.path, entry);
  for (let d = dirname(entry.path); d !== '.' && d !== '/' && d !== ''; d = dirname(d)) {
    if (c.entries.has(d)) break;
    c.entries.set(d, { kind: 'dir', path: d, mode: 0o755 });
  }
}

function addFile(c: Collected, source: string, path: string): void {
  const st = statSync(source);
  add(c, { kind: 'file', path, source, size: st.size, mode: st.mode & 0o777 });
  c.fingerprint.push(`${path}\t${st.size}\t${st.mtimeMs}`);
}

function inImage(abs: string): string {
  return `${imageRepoRoot.slice(1)}/${relative(repoRoot, abs).split(sep).join('/')}`;
}

/** Every regular file and symlink under `dir` (skipping nested node_modules and tests). */
function addTree(c: Collected, dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const abs = join(dir, name);
    const st = lstatSync(abs);
    if (st.isDirectory()) addTree(c, abs);
    else if (st.isSymbolicLink()) add(c, { kind: 'symlink', path: inImage(abs), target: readlinkSync(abs) });
    else if (st.isFile() && !name.endsWith('.test.ts')) addFile(c, abs, inImage(abs));
  }
}

/**
 * The entries of a node_modules directory (pnpm: symlinks to other packages' real
 * directories, scoped ones one level down): keep each link, then the package it points to.
 */
function addLinks(
  c: Collected,
  nodeModules: string,
  only?: readonly string[],
  seen = new Set<string>(),
): void {
  let names: string[];
  try {
    names = readdirSync(nodeModules);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const abs = join(nodeModules, name);
    if (name.startsWith('@') && lstatSync(abs).isDirectory()) {
      for (const sub of readdirSync(abs)) {
        const full = `${name}/${sub}`;
        if (!only || only.includes(full)) addLink(c, join(abs, sub), seen);
      }
      continue;
    }
    if (!only || only.includes(name)) addLink(c, abs, seen);
  }
}

function addLink(c: Collected, link: string, seen: Set<string>): void {
  const st = lstatSync(link);
  if (!st.isSymbolicLink()) {
    // A real package directory inside a pnpm store entry (the package itself).
    return;
  }
  add(c, { kind: 'symlink', path: inImage(link), target: readlinkSync(link) });
  const real = realpathSync(link);
  if (seen.has(real)) return;
  seen.add(real);
  const workspacePackage = workspace.find((w) => real === join(repoRoot, w.dir));
  if (workspacePackage) return; // added on its own, with its own choice of files
  addTree(c, real);
  // In pnpm's store a package's dependencies are its siblings: …/.pnpm/<id>/node_modules/*.
  const scoped = dirname(real).split(sep).at(-1)?.startsWith('@');
  const siblings = scoped ? dirname(dirname(real)) : dirname(real);
  addLinks(c, siblings, undefined, seen);
}

/** Shared libraries (and the loader) an ELF file needs, as `ldd` resolves them here. */
async function libraries(file: string): Promise<string[]> {
  const out = await promisify(execFile)('ldd', [file], { timeout: 30_000 }).then(
    (r) => r.stdout,
    () => '',
  );
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

async function collect(): Promise<Collected> {
  const c: Collected = { entries: new Map(), fingerprint: [`layout ${layoutVersion}`] };
  add(c, { kind: 'dir', path: 'tmp', mode: 0o1777 });
  add(c, { kind: 'dir', path: 'data', mode: 0o755 });
  const seen = new Set<string>();
  addFile(c, join(repoRoot, 'package.json'), inImage(join(repoRoot, 'package.json')));
  for (const w of workspace) {
    const dir = join(repoRoot, w.dir);
    addFile(c, join(dir, 'package.json'), inImage(join(dir, 'package.json')));
    for (const f of w.files) {
      const abs = join(dir, f);
      if (statSync(abs).isDirectory()) addTree(c, abs);
      else addFile(c, abs, inImage(abs));
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    addLinks(c, join(dir, 'node_modules'), w.deps ?? Object.keys(pkg.dependencies ?? {}), seen);
  }
  const elves = [process.execPath, natsServerBinary()];
  for (const e of c.entries.values())
    if (e.kind === 'file' && e.path.endsWith('glibc.node')) elves.push(e.source);
  addFile(c, process.execPath, imageNode.slice(1));
  addFile(c, natsServerBinary(), imageNatsServer.slice(1));
  for (const elf of elves) {
    for (const lib of await libraries(elf)) addFile(c, realpathSync(lib), lib.slice(1));
  }
  return c;
}

/**
 * The tag of the chaos image for the current inputs, imported into the daemon if it is not
 * there yet (about 2 s for ~150 MB). The tag is a hash of every input's path, size and
 * modification time: any change to the code or binaries makes a new image.
 */
export async function ensureChaosImage(docker: Dockerode): Promise<string> {
  const c = await collect();
  const hash = createHash('sha256').update(c.fingerprint.sort().join('\n')).digest('hex').slice(0, 16);
  const name = `${chaosImageRepo}:${hash}`;
  try {
    await docker.getImage(name).inspect();
    return name;
  } catch {
    // not there yet: import it
  }
  const entries = [...c.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const progress = (await docker.importImage(tarStream(entries), {
    repo: chaosImageRepo,
    tag: hash,
  })) as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  for await (const chunk of progress) chunks.push(Buffer.from(chunk as Buffer));
  const text = Buffer.concat(chunks).toString('utf8');
  if (/"error"/.test(text)) throw new Error(`docker import of ${name} failed: ${text.slice(0, 500)}`);
  await docker.getImage(name).inspect();
  return name;
}
