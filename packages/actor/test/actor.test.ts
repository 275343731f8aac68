import { type NatsCluster, startNats } from '@flotilla/testkit';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorSystem,
  type Ask,
  ask,
  DeadlineExceededError,
  encode,
  FlotillaError,
  NoRespondersError,
  RemoteError,
  type Stream,
  StreamError,
  silentLogger,
  sleep,
  stream,
  type Tell,
  tell,
  UnknownMethodError,
} from '../src/index.ts';

type Echo = {
  echo: Ask<{ text: string }, { text: string; by: string }>;
  fail: Ask<{ code: string }, never>;
  crash: Ask<null, never>;
  slow: Ask<{ ms: number }, number>;
  note: Tell<{ text: string }>;
  count: Stream<{ n: number; bytes: number; ms?: number }, { i: number; pad: string }>;
  flood: Stream<{ n: number; bytes: number }, { i: number; pad: string }>;
  boom: Stream<null, number>;
  forever: Stream<null, number>;
};

let nats: NatsCluster;
const systems: ActorSystem[] = [];
let prefixSeq = 0;

async function newSystem(prefix: string, servers: readonly string[] = nats.urls): Promise<ActorSystem> {
  const s = await ActorSystem.connect({ servers, log: silentLogger(), prefix });
  systems.push(s);
  return s;
}

const forevers: AbortSignal[] = [];
const notes: string[] = [];

function spawnEcho(system: ActorSystem, by: string, queue?: string) {
  return system.spawn<Echo>({
    name: 'echo',
    queue,
    handlers: {
      echo: ask((req: { text: string }) => ({ text: req.text, by })),
      fail: ask((req: { code: string }) => {
        throw new FlotillaError(req.code, `failed with ${req.code}`, { detail: 42 });
      }),
      crash: ask(() => {
        throw new TypeError('a bug');
      }),
      slow: ask(async (req: { ms: number }) => {
        await sleep(req.ms);
        return req.ms;
      }),
      note: tell((msg: { text: string }) => {
        notes.push(msg.text);
      }),
      count: stream(async (req: { n: number; bytes: number; ms?: number }, sink) => {
        for (let i = 0; i < req.n; i++) {
          await sink.send({ i, pad: 'x'.repeat(req.bytes) });
          if (req.ms) await sleep(req.ms);
        }
        sink.end();
      }),
      flood: stream((req: { n: number; bytes: number }, sink) => {
        // A producer that does not wait: the byte bound must stop it.
        for (let i = 0; i < req.n && !sink.closed; i++)
          sink.send({ i, pad: 'y'.repeat(req.bytes) }).catch(() => {});
      }),
      boom: stream(async (_req: null, sink) => {
        await sink.send(1);
        throw new FlotillaError('Compacted', 'revision 3 was compacted');
      }),
      forever: stream((_req: null, sink) => {
        forevers.push(sink.signal);
      }),
    },
    maxStreamBufferedBytes: 64 * 1024,
  });
}

beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await Promise.all(systems.map((s) => s.shutdown({ timeoutMs: 1000 })));
});

function freshPrefix(): string {
  prefixSeq += 1;
  return `t${prefixSeq}`;
}

describe('ask', () => {
  it('answers, and carries typed errors back without stopping the actor', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const echo = client.ref<Echo>('echo');

    await expect(echo.ask('echo', { text: 'hi' })).resolves.toEqual({ text: 'hi', by: 'a' });
    const err = await echo.ask('fail', { code: 'NotFound' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: 'NotFound', message: 'failed with NotFound', data: { detail: 42 } });
    await expect(echo.ask('crash', null)).rejects.toMatchObject({ code: 'Internal', message: 'a bug' });
    await expect(
      (client.ref('echo') as unknown as ReturnType<typeof client.ref<Echo>>).ask('nope' as 'echo', {
        text: '',
      }),
    ).rejects.toBeInstanceOf(UnknownMethodError);
    // still serving after all of the above
    await expect(echo.ask('echo', { text: 'again' })).resolves.toEqual({ text: 'again', by: 'a' });
  });

  it('tells are delivered without a reply', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    client.ref<Echo>('echo').tell('note', { text: 'fire' });
    await client.nc.flush();
    for (let i = 0; i < 100 && !notes.includes('fire'); i++) await sleep(10);
    expect(notes).toContain('fire');
  });

  it('tells no-responders apart from a missed deadline', async () => {
    const prefix = freshPrefix();
    const client = await newSystem(prefix);
    const t0 = performance.now();
    const none = await client
      .ref<Echo>('echo')
      .ask('echo', { text: 'x' }, { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(none).toBeInstanceOf(NoRespondersError);
    // it retried with back-off, giving up only when the next pause would pass the deadline
    expect(performance.now() - t0).toBeGreaterThan(100);
    expect((none as NoRespondersError).data).toMatchObject({ attempts: expect.any(Number) });
    expect(((none as NoRespondersError).data as { attempts: number }).attempts).toBeGreaterThan(1);

    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const late = await client
      .ref<Echo>('echo')
      .ask('slow', { ms: 2000 }, { timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(DeadlineExceededError);
    expect(late).not.toBeInstanceOf(NoRespondersError);
  });

  it('retries on no-responders until the actor appears', async () => {
    const prefix = freshPrefix();
    const client = await newSystem(prefix);
    const pending = client.ref<Echo>('echo').ask('echo', { text: 'late' }, { timeoutMs: 5000 });
    await sleep(300);
    const server = await newSystem(prefix);
    spawnEcho(server, 'b');
    await expect(pending).resolves.toEqual({ text: 'late', by: 'b' });
  });

  it('spreads a queue group over its members', async () => {
    const prefix = freshPrefix();
    const members = await Promise.all(['a', 'b', 'c'].map(() => newSystem(prefix)));
    await Promise.all(members.map((m, i) => spawnEcho(m, `m${i}`, 'echo').ready));
    const client = await newSystem(prefix);
    const echo = client.ref<Echo>('echo');
    const counts = new Map<string, number>();
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => echo.ask('echo', { text: String(i) })),
    );
    for (const r of replies) counts.set(r.by, (counts.get(r.by) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['m0', 'm1', 'm2']);
    // Every member takes a real share (uniform would be 100 each).
    for (const n of counts.values()) expect(n).toBeGreaterThan(40);
  });

  it('answers a retried request id once when dedupe is on', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    let calls = 0;
    await server.spawn<{ inc: Ask<null, number> }>({
      name: 'counter',
      dedupe: { maxEntries: 100, ttlMs: 60_000 },
      handlers: {
        inc: ask(async () => {
          calls += 1;
          await sleep(50);
          return calls;
        }),
      },
    }).ready;
    const client = await newSystem(prefix);
    const counter = client.ref<{ inc: Ask<null, number> }>('counter');
    const [a, b] = await Promise.all([
      counter.ask('inc', null, { requestId: 'same' }),
      counter.ask('inc', null, { requestId: 'same' }),
    ]);
    const c = await counter.ask('inc', null, { requestId: 'same' });
    expect([a, b, c]).toEqual([1, 1, 1]);
    expect(await counter.ask('inc', null)).toBe(2);
    expect(calls).toBe(2);
  });

  it('drops garbage frames, counts them, and keeps answering', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const raw = await connect({ servers: [...nats.urls] });
    const subject = `${prefix}.echo`;
    let seed = 1;
    for (let i = 0; i < 1000; i++) {
      seed = (seed * 48271) % 2147483647;
      const kind = i % 4;
      const junk =
        kind === 0
          ? new Uint8Array([seed & 0xff, (seed >> 8) & 0xff, 0xc1])
          : kind === 1
            ? encode({ v: 1, k: 'martian', x: seed })
            : kind === 2
              ? encode({ v: 9, k: 'ask' })
              : encode('just a string');
      raw.publish(subject, junk);
    }
    await raw.flush();
    const client = await newSystem(prefix);
    await expect(client.ref<Echo>('echo').ask('echo', { text: 'still here' })).resolves.toMatchObject({
      text: 'still here',
    });
    const metric = await server.registry.getSingleMetric('flotilla_actor_frames_dropped_total')!.get();
    const total = metric.values.filter((v) => v.labels.actor === 'echo').reduce((sum, v) => sum + v.value, 0);
    expect(total).toBe(1000);
    await raw.close();
  });
});

describe('limits', () => {
  it('answers a reply too large for NATS with a typed error and keeps serving', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    type Big = { big: Ask<{ bytes: number }, Uint8Array> };
    await server.spawn<Big>({
      name: 'big',
      handlers: { big: ask((req: { bytes: number }) => new Uint8Array(req.bytes)) },
    }).ready;
    const client = await newSystem(prefix);
    const big = client.ref<Big>('big');
    const err = await big.ask('big', { bytes: 2 * 1024 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: 'ResponseTooLarge' });
    expect((await big.ask('big', { bytes: 10 })).length).toBe(10);
  });
});

describe('supervision', () => {
  it('retries a failing setup with back-off until it succeeds', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    let attempts = 0;
    const host = server.spawn<{ ping: Ask<null, string> }>({
      name: 'flaky',
      setupBackoff: { initialMs: 10, maxMs: 40, multiplier: 2, jitter: 0 },
      setup: () => {
        attempts += 1;
        if (attempts < 4) throw new Error(`not yet (${attempts})`);
      },
      handlers: { ping: ask(() => 'pong') },
    });
    expect(host.serving).toBe(false);
    await host.ready;
    expect(attempts).toBe(4);
    const client = await newSystem(prefix);
    await expect(client.ref<{ ping: Ask<null, string> }>('flaky').ask('ping', null)).resolves.toBe('pong');
  });
});

describe('stream', () => {
  it('delivers every item in order and ends', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const got: number[] = [];
    for await (const item of client
      .ref<Echo>('echo')
      .stream('count', { n: 500, bytes: 10 }, { windowFrames: 16 })) {
      got.push(item.i);
    }
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('paces a producer to a slow consumer within the stated bounds', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const itemBytes = 1024;
    const window = 8;
    const s = client.ref<Echo>('echo').stream('count', { n: 60, bytes: itemBytes }, { windowFrames: window });
    let maxClientBuffered = 0;
    let maxServerBuffered = 0;
    let n = 0;
    for await (const _ of s) {
      n += 1;
      maxClientBuffered = Math.max(maxClientBuffered, s.bufferedItems);
      for (const serverStream of (
        server as unknown as { streams: Map<string, { bufferedBytes: number }> }
      ).streams.values()) {
        maxServerBuffered = Math.max(maxServerBuffered, serverStream.bufferedBytes);
      }
      await sleep(5);
    }
    expect(n).toBe(60);
    // The consumer never holds more than its window; a producer that awaits each send
    // never has more than one item waiting.
    expect(maxClientBuffered).toBeLessThanOrEqual(window);
    expect(maxServerBuffered).toBeLessThanOrEqual(itemBytes + 64);
  });

  it('fails a consumer that falls too far behind instead of buffering without bound', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const s = client.ref<Echo>('echo').stream('flood', { n: 10_000, bytes: 1024 }, { windowFrames: 4 });
    const got: number[] = [];
    const err = await (async () => {
      for await (const item of s) {
        got.push(item.i);
        await sleep(20);
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('StreamSlowConsumer');
    // what did arrive arrived in order, without a gap
    expect(got).toEqual(got.map((_, i) => i));
  });

  it('passes a handler error after the items sent before it', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const got: number[] = [];
    const err = await (async () => {
      for await (const item of client.ref<Echo>('echo').stream('boom', null)) got.push(item);
    })().catch((e: unknown) => e);
    expect(got).toEqual([1]);
    expect(err).toMatchObject({ code: 'Compacted' });
  });

  it('tells the producer when the consumer cancels or goes silent', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const before = forevers.length;
    const s = client.ref<Echo>('echo').stream('forever', null, { heartbeatMs: 50 });
    for (let i = 0; i < 100 && forevers.length === before; i++) await sleep(10);
    const signal = forevers[before]!;
    await sleep(200); // heartbeats keep it open meanwhile
    expect(signal.aborted).toBe(false);
    s.cancel();
    for (let i = 0; i < 100 && !signal.aborted; i++) await sleep(10);
    expect(signal.aborted).toBe(true);

    // A consumer whose process vanishes: its connection closes without a cancel.
    const gone = await ActorSystem.connect({ servers: nats.urls, log: silentLogger(), prefix });
    gone.ref<Echo>('echo').stream('forever', null, { heartbeatMs: 50 });
    for (let i = 0; i < 100 && forevers.length === before + 1; i++) await sleep(10);
    const orphan = forevers[before + 1]!;
    await gone.nc.close();
    for (let i = 0; i < 100 && !orphan.aborted; i++) await sleep(10);
    expect(orphan.aborted).toBe(true);
    expect(String(orphan.reason)).toMatch(/silent/);
  });

  it('reports a lost frame as a gap rather than skipping it', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const s = client.ref<Echo>('echo').stream('forever', null, { heartbeatMs: 1000 });
    await sleep(100);
    // Forge the frame a lossy network would deliver after dropping seq 1.
    client.nc.publish(s.inbox, encode({ v: 1, k: 'item', s: 2, p: encode(2) }));
    const err = await s.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('StreamGap');
  });

  it('rejects an unknown stream method', async () => {
    const prefix = freshPrefix();
    const server = await newSystem(prefix);
    await spawnEcho(server, 'a').ready;
    const client = await newSystem(prefix);
    const s = client.ref<Echo>('echo').stream('nope' as 'count', { n: 1, bytes: 1 });
    await expect(s.next()).rejects.toBeInstanceOf(UnknownMethodError);
  });
});
