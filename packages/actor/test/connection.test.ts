import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { startNats } from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { connectNats, type NatsConnection, silentLogger } from '../src/index.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A TCP listener that accepts and never says a word: to a NATS client, a server that is
 * there but will not answer (a paused one, or one behind a host that swallows packets).
 * Returns its `host:port`; closed after the test.
 */
async function silent(): Promise<string> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return `127.0.0.1:${address.port}`;
}

describe('connectNats', () => {
  it('gives up on a server that does not answer after connectTimeoutMs', async () => {
    const url = await silent();
    const t0 = performance.now();
    await expect(
      connectNats({ servers: [url], waitOnFirstConnect: false, connectTimeoutMs: 300 }, silentLogger()),
    ).rejects.toThrow();
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(5_000);
  });

  it('by default gives up on a silent server within seconds, not NATS’s 20 s', async () => {
    const url = await silent();
    const t0 = performance.now();
    await expect(
      connectNats({ servers: [url], waitOnFirstConnect: false }, silentLogger()),
    ).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 15_000);

  it('gets past silent servers to one that answers', async () => {
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    const servers = [await silent(), await silent(), nats.urls[0]!];
    const nc: NatsConnection = await connectNats({ servers, connectTimeoutMs: 500 }, silentLogger());
    cleanups.push(() => nc.close());
    // The list is shuffled: up to two dials of 0.5 s each before the live server.
    expect(nc.getServer()).toBe(nats.urls[0]!.replace(/^nats:\/\//, ''));
    await nc.flush();
  });
});
