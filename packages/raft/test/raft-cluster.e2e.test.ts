// Issue 4's acceptance on real processes: three (or more) member processes, each a
// RaftNode with the LogMachine on its own disk, talking over a 3-server NATS cluster.
import { appendFileSync, cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RaftCluster } from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ProposalTimeoutError } from '../src/index.ts';

let cluster: RaftCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Proposers that run until stopped, recording what was acknowledged and what failed. */
function proposers(c: RaftCluster, count: number, prefix: string) {
  const acked: string[] = [];
  const failed: string[] = [];
  let running = true;
  const loops = Array.from({ length: count }, async (_, w) => {
    for (let i = 0; running && i < 100_000; i++) {
      const payload = `${prefix}-${w}-${i}`;
      try {
        await c.propose(payload, 5_000);
        acked.push(payload);
      } catch {
        failed.push(payload);
      }
    }
  });
  return {
    acked,
    failed,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every member applied the same sequence, and it holds every acknowledged payload. */
async function expectConverged(c: RaftCluster, acked: readonly string[]) {
  const st = await c.status(await c.waitForLeader(15_000));
  await c.waitForApplied(st.commit, 30_000);
  const sequences = new Map<string, string[]>();
  for (const id of c.members.keys()) {
    if (c.member(id).process.running) sequences.set(id, await c.applied(id));
  }
  const [first, ...rest] = [...sequences.values()];
  for (const s of rest) expect(s).toEqual(first);
  const applied = new Set(first);
  const missing = acked.filter((p) => !applied.has(p));
  expect(missing).toEqual([]);
  return first!;
}

function walSegments(dir: string): string[] {
  const walDir = join(dir, 'wal');
  return readdirSync(walDir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => join(walDir, n));
}

describe('a three-process Raft cluster', () => {
  it('elects and replicates; a killed leader is replaced and catches up by log and by snapshot', async () => {
    cluster = await RaftCluster.start({ snapshotEveryEntries: 40, snapshotCatchUpEntries: 10 });
    const c = cluster;
    const first = await c.waitForLeader(15_000);
    for (let i = 0; i < 20; i++) await c.propose(`a${i}`);

    await c.kill(first);
    const second = await c.waitForLeader(15_000);
    expect(second).not.toBe(first);
    // Enough entries that the survivors snapshot and compact past where the dead member stopped.
    for (let i = 0; i < 150; i++) await c.propose(`b${i}`);
    const leaderStatus = await c.status(second);
    expect(leaderStatus.snapshotIndex).toBeGreaterThan(20);

    await c.restart(first);
    const sequence = await expectConverged(c, [...Array.from({ length: 20 }, (_, i) => `a${i}`)]);
    expect(sequence.length).toBe(170);
    // It came back through a snapshot: its own store now holds one past its old log.
    expect(readdirSync(join(c.member(first).dir, 'snap')).some((n) => n.endsWith('.snap'))).toBe(true);
  });

  it('catches a follower up by log when it missed more than one NATS payload of entries', async () => {
    // No snapshot in reach: the follower must get every entry by append. 8,000 small entries
    // are 1.6 MB: an append of 1 MiB of them plus their framing, or several appends in one
    // publish, exceed NATS' 1 MiB payload limit; such a publish is refused, and the same
    // refused append would repeat for ever.
    cluster = await RaftCluster.start({ snapshotEveryEntries: 100_000 });
    const c = cluster;
    const leader = await c.waitForLeader(15_000);
    const follower = [...c.members.keys()].find((id) => id !== leader)!;
    await c.propose('before');
    await c.kill(follower);
    const small = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(194)}`;
    for (let i = 0; i < 8_000; i += 100)
      await Promise.all(Array.from({ length: 100 }, (_, k) => c.propose(small(i + k), 30_000)));
    await c.restart(follower);
    const { commit } = await c.status(await c.waitForLeader(15_000));
    await c.waitForApplied(commit, 30_000);
    expect((await c.status(follower)).applied).toBeGreaterThanOrEqual(commit);
    expect(readdirSync(join(c.member(follower).dir, 'snap')).some((n) => n.endsWith('.snap'))).toBe(false);
  });

  it('restarts from a snapshot it received but died before installing, and keeps appending after it', async () => {
    // A follower stores a leader's snapshot, then dies before its WAL records the snapshot
    // (the chaos scenario snapshot-transfer-kill crashes it exactly there). The copy below
    // puts it in that state: its WAL ends far below the snapshot the store holds.
    cluster = await RaftCluster.start({ snapshotEveryEntries: 100, snapshotCatchUpEntries: 10 });
    const c = cluster;
    const leader = await c.waitForLeader(15_000);
    const follower = [...c.members.keys()].find((id) => id !== leader)!;
    await c.propose('before');
    await c.kill(follower);
    for (let i = 0; i < 300; i += 50)
      await Promise.all(Array.from({ length: 50 }, (_, k) => c.propose(`gap-${i + k}`, 30_000)));
    // The leader snapshots in the background after applying: let the last one land, so that
    // the copy is its newest and it has no newer one to send (that would record the marker).
    await delay(1_000);
    const snapDir = (id: string) => join(c.member(id).dir, 'snap');
    const stored = readdirSync(snapDir(leader))
      .filter((n) => n.endsWith('.snap'))
      .sort();
    expect(stored.length).toBeGreaterThan(0);
    const newest = stored.at(-1)!;
    cpSync(join(snapDir(leader), newest), join(snapDir(follower), newest), { recursive: true });

    await c.restart(follower);
    for (let i = 0; i < 50; i++) await c.propose(`after-${i}`, 30_000);
    const { commit } = await c.status(await c.waitForLeader(15_000));
    await c.waitForApplied(commit, 30_000);
    expect(c.member(follower).process.running).toBe(true);
    expect((await c.status(follower)).applied).toBeGreaterThanOrEqual(commit);
    await expectConverged(c, ['before', 'after-49']);
  });

  it('ends a proposal forwarded to a leader that died once the follower sees it gone, not at its timeout', async () => {
    cluster = await RaftCluster.start({});
    const c = cluster;
    const leader = await c.waitForLeader(15_000);
    const follower = [...c.members.keys()].find((id) => id !== leader)!;
    await c.propose('before');
    await c.kill(leader);
    // The follower still believes in the dead leader and forwards the proposal into the void.
    const started = performance.now();
    const err = await c.proposeVia(follower, 'into-the-void', 30_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    const tookMs = performance.now() - started;
    expect(err).toBeInstanceOf(ProposalTimeoutError);
    expect(String(err)).toMatch(new RegExp(`before leader ${leader} lost leadership`));
    expect(tookMs).toBeLessThan(25_000);
  });

  it('loses no acknowledged proposal across 50 SIGKILLs under load', async () => {
    // Shorter timers (election in 0.5-1 s) so that 50 rounds fit in about a minute.
    cluster = await RaftCluster.start({ tickMs: 50, snapshotEveryEntries: 200, snapshotCatchUpEntries: 50 });
    const c = cluster;
    await c.waitForLeader(15_000);
    const load = proposers(c, 4, 'k');
    const ids = [...c.members.keys()];
    let kills = 0;
    for (let round = 0; round < 50; round++) {
      // Every other kill hits the leader; the rest a random member.
      const victim =
        round % 2 === 0
          ? await c.waitForLeader(10_000).catch(() => ids[round % 3]!)
          : ids[Math.floor(Math.random() * ids.length)]!;
      await c.kill(victim);
      kills += 1;
      await delay(Math.floor(Math.random() * 300));
      await c.restart(victim);
      // Only one member down at a time, and the cluster must make progress before the next kill.
      const before = load.acked.length;
      const deadline = Date.now() + 20_000;
      while (load.acked.length <= before) {
        if (Date.now() > deadline) throw new Error(`no progress after kill ${kills} of ${victim}`);
        await delay(20);
      }
    }
    await load.stop();
    expect(kills).toBe(50);
    expect(load.acked.length).toBeGreaterThan(100);
    await expectConverged(c, load.acked);
  });

  it('recovers from a WAL cut mid-record and refuses to start on a flipped byte', async () => {
    cluster = await RaftCluster.start();
    const c = cluster;
    await c.waitForLeader(15_000);
    for (let i = 0; i < 50; i++) await c.propose(`w${i}`);
    const leader = await c.waitForLeader();
    const victim = [...c.members.keys()].find((id) => id !== leader)!;
    await c.waitForApplied((await c.status(leader)).commit);

    // A torn tail: the member died in the middle of writing a record it never synced (so
    // never acknowledged). Append the first bytes of a record-shaped piece to the last segment.
    await c.kill(victim);
    const segments = walSegments(c.member(victim).dir);
    const last = segments.at(-1)!;
    const tail = readFileSync(last).subarray(-64);
    appendFileSync(last, tail.subarray(0, 23));
    await c.restart(victim);
    for (let i = 50; i < 60; i++) await c.propose(`w${i}`);
    await expectConverged(
      c,
      Array.from({ length: 60 }, (_, i) => `w${i}`),
    );

    // A flipped byte in the middle of a segment: corruption, not a torn tail.
    await c.kill(victim);
    const seg = walSegments(c.member(victim).dir)[0]!;
    const bytes = readFileSync(seg);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(seg, bytes);
    c.member(victim).process.start();
    const exit = await c.member(victim).process.waitExit();
    expect(exit.code).not.toBe(0);
    const log = readFileSync(c.member(victim).process.spec.logFile, 'utf8');
    expect(log).toMatch(/WalCorruption/);
    expect(log).toContain(seg.split('/').pop()!);
    expect(log).toMatch(/offset/);
  });

  it('adds a learner, promotes it and removes a member while proposals flow', async () => {
    cluster = await RaftCluster.start({ snapshotEveryEntries: 100, snapshotCatchUpEntries: 20 });
    const c = cluster;
    await c.waitForLeader(15_000);
    for (let i = 0; i < 120; i++) await c.propose(`pre${i}`);
    const load = proposers(c, 2, 'm');

    c.spawn('m4');
    const withLearner = await c.changeMembership({ type: 'addLearner', node: 'm4' });
    expect(withLearner.learners).toEqual(['m4']);
    const promoted = await c.changeMembership({ type: 'promote', node: 'm4' }, 30_000);
    expect(promoted.voters).toEqual(['m1', 'm2', 'm3', 'm4']);

    const leader = await c.waitForLeader();
    const leaving = leader; // removing the leader: it must step down once the change commits
    const after = await c.changeMembership({ type: 'remove', node: leaving }, 30_000);
    expect(after.voters).not.toContain(leaving);
    expect(after.voters).toHaveLength(3);
    const next = await c.waitForLeader(15_000);
    expect(next).not.toBe(leaving);
    await delay(500);
    await load.stop();
    await c.kill(leaving);
    await expectConverged(c, load.acked);
    const m4 = await c.summary('m4');
    expect(m4.count).toBeGreaterThan(120);
  });

  it('SIGTERM of the leader hands over leadership; only in-flight proposals may fail', async () => {
    cluster = await RaftCluster.start();
    const c = cluster;
    const leader = await c.waitForLeader(15_000);
    const load = proposers(c, 4, 't');
    await delay(1_000);
    const failedBefore = load.failed.length;
    const t0 = performance.now();
    await c.terminate(leader);
    const exit = await c.member(leader).process.waitExit();
    expect(exit.code).toBe(0);
    const next = await c.waitForLeader(5_000);
    const handoverMs = performance.now() - t0;
    expect(next).not.toBe(leader);
    await delay(1_000);
    await load.stop();
    // At most the proposals that were in flight at the moment of the SIGTERM.
    expect(load.failed.length - failedBefore).toBeLessThanOrEqual(4);
    // A transfer, not an election timeout plus a vote.
    expect(handoverMs).toBeLessThan(5_000);
    await expectConverged(c, load.acked);
  });
});
