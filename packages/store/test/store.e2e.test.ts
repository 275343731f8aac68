// Issue 5's acceptance on real processes: a 3-member store (each member with its own NATS
// server, as on a control-plane machine), clients on a separate connection.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  check,
  History,
  type KvInput,
  type KvOutput,
  kvModel,
  type RecordedEvent,
  runKvWorkload,
  StoreCluster,
  tempDir,
  WatchRecorder,
} from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bytesToString,
  CompactedError,
  Election,
  FutureRevisionError,
  Mutex,
  restoreMemberFromSnapshot,
  type StoreClient,
  toBytes,
} from '../src/index.ts';

let cluster: StoreCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const chaosSeconds = Number(process.env.FLOTILLA_CHAOS_SECONDS ?? 60);

/** Wait until every member answers with the same applied index and revision; return it. */
async function quiesce(c: StoreCluster, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all([...c.members.keys()].map((id) => c.status(id, 1_000)));
    const revisions = new Set(statuses.map((s) => s?.store.revision));
    const applied = new Set(statuses.map((s) => s?.store.appliedIndex));
    if (statuses.every((s) => s !== undefined) && revisions.size === 1 && applied.size === 1) {
      return statuses[0]!.store.revision;
    }
    if (Date.now() > deadline)
      throw new Error(`members did not converge: ${JSON.stringify(statuses.map((s) => s?.store))}`);
    await delay(100);
  }
}

async function expectEqualHashes(c: StoreCluster, client: StoreClient, revision: number) {
  const hashes = await Promise.all([...c.members.keys()].map((id) => client.hash(id, revision)));
  expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
  return hashes[0]!;
}

/** The authoritative event sequence under `prefix` up to `revision`, from a fresh watch. */
async function truthUpTo(client: StoreClient, prefix: string, revision: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  const w = client.watchPrefix(prefix, { startRevision: 1 });
  for await (const r of w) {
    if (r.kind === 'events') {
      for (const e of r.events) {
        out.push({
          revision: r.revision,
          type: e.type,
          key: bytesToString(e.kv.key),
          value: bytesToString(e.kv.value),
        });
      }
    }
    if (r.revision >= revision) break;
  }
  w.cancel();
  return out;
}

describe('the store on three member processes', () => {
  it('serves KV, txn, compaction errors, watches and leases through failover', async () => {
    cluster = await StoreCluster.start();
    const c = cluster;
    await c.waitForLeader();
    const client = await c.client();

    const first = await client.put('/t/a', '1');
    await client.put('/t/b', '2');
    const second = await client.put('/t/a', '3', { prevKv: true });
    expect(bytesToString(second.prevKv!.value)).toBe('1');
    const a = await client.get('/t/a');
    expect(a).toMatchObject({ version: 2, createRevision: first.revision, modRevision: second.revision });
    expect(bytesToString((await client.get('/t/a', { revision: first.revision }))!.value)).toBe('1');
    const all = await client.getPrefix('/t/', { limit: 1 });
    expect(all).toMatchObject({ count: 2, more: true });

    // Compare-and-swap: one wins, the stale one fails, one revision per txn.
    const cas = (expected: string, next: string) =>
      client.txn({
        compare: [{ key: toBytes('/t/a'), target: 'value', value: toBytes(expected), result: '=' }],
        success: [
          { op: 'put', key: toBytes('/t/a'), value: toBytes(next) },
          { op: 'put', key: toBytes('/t/c'), value: toBytes(next) },
        ],
        failure: [{ op: 'range', key: toBytes('/t/a') }],
      });
    const won = await cas('3', '4');
    expect(won.succeeded).toBe(true);
    const lost = await cas('3', '5');
    expect(lost.succeeded).toBe(false);
    expect(lost.revision).toBe(won.revision);

    // A watch from an old revision replays history with previous values.
    const w = client.watchPrefix('/t/', { startRevision: first.revision, prevKv: true });
    const seen: string[] = [];
    for await (const r of w) {
      if (r.kind === 'events')
        for (const e of r.events) seen.push(`${bytesToString(e.kv.key)}=${bytesToString(e.kv.value)}`);
      if (r.revision >= won.revision) break;
    }
    w.cancel();
    expect(seen).toEqual(['/t/a=1', '/t/b=2', '/t/a=3', '/t/a=4', '/t/c=4']);

    // Compaction: old revisions are gone with a clear error; future ones too.
    await client.compact(won.revision);
    await expect(client.get('/t/a', { revision: first.revision })).rejects.toBeInstanceOf(CompactedError);
    await expect(client.get('/t/a', { revision: won.revision + 1000 })).rejects.toBeInstanceOf(
      FutureRevisionError,
    );

    // Leases: an abandoned lease expires and takes its keys; a kept-alive one survives the
    // leader's death (the new leader restarts its clock, it does not forget it).
    const short = await client.leaseGrant(2);
    await client.put('/t/ephemeral', 'x', { lease: short.id });
    const kept = await client.leaseGrant(3);
    await client.put('/t/kept', 'y', { lease: kept.id });
    const keepAlive = client.keepAlive(kept.id, kept.ttlSeconds);
    const leader = await c.waitForLeader();
    await c.kill(leader);
    await c.waitForLeader();
    await c.restart(leader);
    const deadline = Date.now() + 15_000;
    while ((await client.get('/t/ephemeral')) !== undefined) {
      expect(Date.now()).toBeLessThan(deadline);
      await delay(200);
    }
    await delay(4_000); // longer than the kept lease's TTL
    expect(await client.get('/t/kept')).toBeDefined();
    keepAlive.stop();
    await client.leaseRevoke(kept.id);
    expect(await client.get('/t/kept')).toBeUndefined();

    const revision = await quiesce(c);
    await expectEqualHashes(c, client, revision);
  });

  it(`stays linearizable and loses no watch event under ${chaosSeconds} s of kills, pauses, transfers and isolation`, async () => {
    cluster = await StoreCluster.start({ snapshotEveryEntries: 2_000, snapshotCatchUpEntries: 500 });
    const c = cluster;
    await c.waitForLeader();
    const clients = await Promise.all(Array.from({ length: 4 }, () => c.client({ timeoutMs: 8_000 })));
    const workers = Array.from({ length: 16 }, (_, i) => clients[i % clients.length]!);
    const history = new History<KvInput, KvOutput>();
    const watchers = [0, 1, 2].map((i) => new WatchRecorder(clients[i]!, '/chaos/'));
    const load = runKvWorkload(workers, history, { keys: 8, keyPrefix: '/chaos/k' });

    const ids = [...c.members.keys()];
    const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
    const faults: string[] = [];
    const end = Date.now() + chaosSeconds * 1_000;
    for (let round = 0; Date.now() < end && round < 1_000; round++) {
      await delay(1_000 + Math.random() * 1_500);
      const victim = pick();
      switch (round % 4) {
        case 0:
          faults.push(`kill ${victim}`);
          await c.kill(victim);
          await delay(300 + Math.random() * 700);
          await c.restart(victim);
          break;
        case 1:
          faults.push(`pause ${victim}`);
          c.pause(victim);
          await delay(1_500 + Math.random() * 1_500); // longer than an election timeout
          c.resume(victim);
          break;
        case 2: {
          const to = pick();
          faults.push(`transfer to ${to}`);
          await clients[0]!.transferLeadership(to).catch(() => undefined);
          break;
        }
        default:
          faults.push(`isolate ${victim}`);
          c.isolate(victim);
          await delay(2_000 + Math.random() * 1_000);
          c.heal(victim);
      }
    }
    await load.stop();
    await c.waitForLeader(30_000);
    const revision = await quiesce(c);
    const counts = history.counts();
    expect(counts.ok).toBeGreaterThan(500);

    const verdict = check(kvModel, history, { timeoutMs: 120_000 });
    expect(verdict.result, verdict.explanation).toBe('ok');

    const truth = await truthUpTo(clients[3]!, '/chaos/', revision);
    for (const w of watchers) {
      const until = Date.now() + 20_000;
      while (w.lastRevision < revision && Date.now() < until) await delay(100);
      await w.stop();
      expect(w.check(truth)).toEqual([]);
      expect(w.lastRevision).toBe(revision);
    }
    await expectEqualHashes(c, clients[0]!, revision);
    // The run did what it claims: faults happened and watches had to resume through them.
    expect(faults.length).toBeGreaterThanOrEqual(Math.min(8, chaosSeconds / 3));
    expect(watchers.reduce((n, w) => n + w.resumes, 0)).toBeGreaterThan(0);
  });

  it('elects one leader among candidates, hands over when the leader lease goes, and locks', async () => {
    cluster = await StoreCluster.start();
    const c = cluster;
    await c.waitForLeader();
    const [a, b] = [await c.client(), await c.client()];
    const la = await a.leaseGrant(5);
    const lb = await b.leaseGrant(5);
    const ka = a.keepAlive(la.id, la.ttlSeconds);
    const kb = b.keepAlive(lb.id, lb.ttlSeconds);
    const ea = new Election(a, '/election/ctrl');
    const eb = new Election(b, '/election/ctrl');
    const observed: Array<string | undefined> = [];
    const observer = new AbortController();
    const watching = (async () => {
      for await (const v of new Election(a, '/election/ctrl').observe(observer.signal)) observed.push(v);
    })().catch(() => undefined);

    await ea.campaign('alice', la.id);
    let bElected = false;
    const bCampaign = eb.campaign('bob', lb.id).then(() => {
      bElected = true;
    });
    await delay(1_000);
    expect(bElected).toBe(false);
    expect(bytesToString((await ea.leader())!.value)).toBe('alice');

    // Alice's process "dies": her lease is no longer kept alive and expires.
    ka.stop();
    await bCampaign;
    expect(bytesToString((await eb.leader())!.value)).toBe('bob');
    await eb.proclaim('bob-2');
    await eb.resign();
    await delay(500);
    observer.abort();
    await watching;
    expect(observed.filter((v) => v !== undefined)).toEqual(['alice', 'bob', 'bob-2']);

    // A mutex admits one holder at a time.
    const m1 = new Mutex(a, '/locks/x');
    const m2 = new Mutex(b, '/locks/x');
    const l1 = await a.leaseGrant(5);
    await m1.lock(l1.id);
    const timeout = AbortSignal.timeout(700);
    await expect(m2.lock(lb.id, timeout)).rejects.toThrow();
    await m1.unlock();
    await m2.lock(lb.id);
    await m2.unlock();
    kb.stop();
  });

  it('restores a saved snapshot into a fresh cluster with the same hash', async () => {
    cluster = await StoreCluster.start();
    const c = cluster;
    await c.waitForLeader();
    const client = await c.client();
    for (let i = 0; i < 300; i++) await client.put(`/snap/k${i % 50}`, `v${i}`);
    const revision = await quiesce(c);
    const before = await expectEqualHashes(c, client, revision);

    const dir = tempDir('restore');
    const file = join(dir, 'backup.snap');
    const out = createWriteStream(file);
    const info = await client.snapshot(
      (chunk) => new Promise((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve()))),
    );
    await new Promise<void>((resolve) => out.end(resolve));
    expect(info.totalBytes).toBeGreaterThan(0);
    await c.stop();
    cluster = undefined;

    const members = ['n1', 'n2', 'n3'];
    const memberDirs: Record<string, string> = {};
    for (const m of members) {
      memberDirs[m] = join(dir, m);
      await restoreMemberFromSnapshot({ dir: memberDirs[m], snapshotFile: file, members });
    }
    cluster = await StoreCluster.start({ members, memberDirs });
    const restored = cluster;
    await restored.waitForLeader();
    const client2 = await restored.client();
    const after = await expectEqualHashes(restored, client2, revision);
    expect(after.hash).toBe(before.hash);
    // And it is a live cluster: it takes writes.
    await client2.put('/snap/new', 'after-restore');
    expect(bytesToString((await client2.get('/snap/new'))!.value)).toBe('after-restore');
  });
});
