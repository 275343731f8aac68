// `flo image build` as a user runs it, and the image's root filesystem run as a container
// would run it (chroot, as root): nats-server and a one-member `flotilla server` from
// inside the image, until its API answers. No registry, no Docker.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sleep } from '@flotilla/actor';
import { freePorts, ManagedProcess, reportRootSkip, tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const flo = fileURLToPath(new URL('../src/flo.ts', import.meta.url));
const readyTimeoutMs = 60_000;

describe.runIf(reportRootSkip('image e2e'))('flo image build', () => {
  it('builds a docker-archive whose root filesystem starts a control-plane member', async () => {
    const dir = tempDir('image');
    const { stdout } = await run(process.execPath, [flo, 'image', 'build', '-o', join(dir, 'image.tar')], {
      timeout: 120_000,
    });
    expect(stdout).toMatch(/^wrote .*image\.tar \(\d+ MiB/);
    // A docker-archive: the manifest names the tag, one layer.
    const { stdout: manifest } = await run('tar', ['-xOf', join(dir, 'image.tar'), 'manifest.json']);
    const [entry] = JSON.parse(manifest) as { RepoTags: string[]; Layers: string[] }[];
    expect(entry!.RepoTags).toEqual(['localhost/flotilla:dev']);
    expect(entry!.Layers).toHaveLength(1);

    // Its one layer is the root filesystem a container runtime would unpack.
    const root = join(dir, 'root');
    mkdirSync(root);
    await run('tar', ['-xf', join(dir, 'image.tar'), '-C', dir, entry!.Layers[0]!]);
    await run('tar', ['-xf', join(dir, entry!.Layers[0]!), '-C', root]);

    const [client, api] = await freePorts(2);
    const inImage = (name: string, args: string[]) =>
      new ManagedProcess({
        name,
        // A container's view: its own mount namespace with /proc and /dev, the image as root.
        command: 'unshare',
        args: [
          '--mount',
          '--fork',
          // Killing unshare kills what runs in the image too (else it outlives the test).
          '--kill-child',
          'sh',
          '-c',
          'mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"',
          root,
          ...args,
        ],
        env: { NODE_EXTRA_CA_CERTS: '' },
        logFile: join(dir, `${name}.log`),
      }).start();
    inImage('nats', ['/usr/sbin/nats-server', '-a', '127.0.0.1', '-p', String(client)]);
    await sleep(500);
    const server = inImage('server', [
      '/usr/local/bin/flotilla',
      'server',
      '--member',
      'm1',
      '--store-bootstrap',
      'm1',
      '--nats-servers',
      `nats://127.0.0.1:${client}`,
      '--apiserver-listen',
      `127.0.0.1:${api}`,
    ]);
    // The store (LMDB's native addon), Raft and the HTTP API all start inside the image.
    // (Waiting for /readyz is left out: a one-member cluster's bootstrap is slow to finish
    // on a loaded machine, inside the image or not.)
    const deadline = Date.now() + readyTimeoutMs;
    let log = '';
    while (Date.now() < deadline && server.running) {
      log = readFileSync(server.spec.logFile, 'utf8');
      if (log.includes('"leader changed"') && log.includes('"API server serving"')) break;
      await sleep(250);
    }
    expect(log, `see ${server.spec.logFile}`).toContain('"store member serving"');
    expect(log).toContain('"leader changed"');
    expect(log).toContain('"API server serving"');
    // Its HTTP API reaches the store: /readyz's store check passes.
    let ready = '';
    while (!ready.includes('[+]store ok') && Date.now() < deadline) {
      ready = await fetch(`http://127.0.0.1:${api}/readyz?verbose`)
        .then((r) => r.text())
        .catch(() => '');
      if (!ready.includes('[+]store ok')) await sleep(250);
    }
    expect(ready).toContain('[+]store ok');

    const { stdout: help } = await run('chroot', [root, '/usr/local/bin/flotilla', '--help']);
    expect(help).toMatch(/^ {2}server \[options\]/m);
    expect(help).toMatch(/^ {2}agent \[options\]/m);
  });
});
