// `flo` as a user runs it: the real command, a real local cluster in a temporary
// FLOTILLA_HOME, and what it prints checked against what the cluster itself reports.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '@flotilla/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { connectCluster, memberStatuses, readState } from '../src/index.ts';

const run = promisify(execFile);
const flo = fileURLToPath(new URL('../src/flo.ts', import.meta.url));
const home = tempDir('flo');
const env = { ...process.env, FLOTILLA_HOME: home };

async function floCmd(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [flo, ...args], { env, timeout: 120_000 });
  return stdout;
}

afterAll(async () => {
  // Whatever a failed test left running.
  await floCmd('down').catch(() => undefined);
});

describe('flo on a local cluster', () => {
  it('up, status, chaos, raft, snapshot and down do what they print', async () => {
    const upOut = await floCmd('up', '--workers', '2', '--runtime', 'fake');
    expect(upOut).toMatch(/m\d leads \(term \d+\); cluster healthy/);
    const state = readState(home)!;
    expect(state.members.map((m) => m.name)).toEqual(['m1', 'm2', 'm3']);

    // The printed kubeconfig works with a stock kubectl.
    const kubeconfig = /^export KUBECONFIG=(.+)$/m.exec(upOut)![1]!;
    const { stdout: ns } = await run(
      '/usr/bin/kubectl',
      ['--kubeconfig', kubeconfig, 'get', 'namespaces', '-o', 'name'],
      {
        timeout: 30_000,
      },
    );
    expect(ns).toContain('namespace/default');
    // The two fake-runtime workers are Nodes, Ready before up returned.
    const { stdout: nodes } = await run(
      '/usr/bin/kubectl',
      [
        '--kubeconfig',
        kubeconfig,
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}',
      ],
      { timeout: 30_000 },
    );
    expect(nodes.trim().split(' ').sort()).toEqual(['w1=True', 'w2=True']);
    expect(state.workers!.map((w) => w.name)).toEqual(['w1', 'w2']);

    // Both leases get a holder, and status names it.
    const leaseDeadline = Date.now() + 30_000;
    let leaseLines = '';
    for (;;) {
      leaseLines = await floCmd('status');
      if (!/lease: -$/m.test(leaseLines)) break;
      expect(Date.now()).toBeLessThan(leaseDeadline);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(leaseLines).toMatch(/^controller-manager lease: \S+$/m);
    expect(leaseLines).toMatch(/^scheduler lease: \S+$/m);

    // flo status against the members' own statuses.
    const client = await connectCluster(state);
    try {
      const status = await floCmd('status');
      const truth = await memberStatuses(client, state);
      for (const { name, status: s } of truth) {
        const line = status.split('\n').find((l) => l.startsWith(`${name} `))!;
        expect(line).toContain(s!.raft.role);
        expect(line.split(/\s+/)[3]).toBe(String(s!.raft.term));
      }

      // kill-leader: the killed member was the leader, and the one named as elected leads now.
      const killOut = await floCmd('chaos', 'kill-leader');
      const m =
        /^killed (m\d) \(leader, term (\d+)\); (m\d) elected in ([\d.]+) s; writes resumed after ([\d.]+) s$/m.exec(
          killOut,
        );
      expect(m, killOut).not.toBeNull();
      const [, killed, , elected] = m!;
      expect(elected).not.toBe(killed);
      const after = await memberStatuses(client, state);
      expect(after.find((x) => x.name === killed)!.status).toBeUndefined();
      expect(after.find((x) => x.name === elected)!.status!.raft.role).toBe('leader');

      expect(await floCmd('chaos', 'heal')).toContain(`restarted ${killed}`);
      const deadline = Date.now() + 20_000;
      while ((await memberStatuses(client, state)).some((x) => x.status === undefined)) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 200));
      }

      const transfer = await floCmd('raft', 'transfer-leader', killed!);
      expect(transfer).toMatch(new RegExp(`^${killed} leads now`));
      expect((await memberStatuses(client, state)).find((x) => x.name === killed)!.status!.raft.role).toBe(
        'leader',
      );

      const pauseOut = await floCmd('chaos', 'pause', 'm1', '500ms');
      expect(pauseOut).toMatch(/^paused m1/);
      expect(await floCmd('raft', 'members')).toMatch(/voters: +m1, m2, m3/);

      const file = `${home}/backup.snap`;
      expect(await floCmd('snapshot', 'save', file)).toMatch(/^saved \d+ bytes at applied index \d+/);
      expect(existsSync(file)).toBe(true);
    } finally {
      await client.close();
    }

    // Bad input: one readable line and a non-zero exit, nothing changed.
    await expect(floCmd('chaos', 'pause', 'm1', 'soon')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^flo: "soon" is not a duration/),
    });
    await expect(floCmd('up', '--runtime', 'podman')).rejects.toMatchObject({
      stderr: expect.stringMatching(/^flo: --runtime podman: not fake or containerd/),
    });
    await expect(floCmd('chaos', 'kill', 'm9')).rejects.toMatchObject({
      stderr: expect.stringMatching(/^flo: no member m9/),
    });

    const pids = [...state.nats, ...state.members, ...state.workers!].map((p) => p.pid);
    expect(await floCmd('down')).toContain('cluster down');
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    expect(readState(home)).toBeUndefined();
  });
});
