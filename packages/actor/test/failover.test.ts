import { startNats } from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type Ask, ask, silentLogger } from '../src/index.ts';

type Who = { who: Ask<null, string> };
const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown({ timeoutMs: 500 })));
});

async function system(servers: readonly string[], prefix: string): Promise<ActorSystem> {
  const s = await ActorSystem.connect({
    servers,
    log: silentLogger(),
    prefix,
    pingIntervalMs: 500,
    maxPingOut: 2,
  });
  systems.push(s);
  return s;
}

describe('NATS failures', () => {
  it('asks succeed again after the server is SIGKILLed and restarted', async () => {
    const nats = await startNats();
    const server = await system(nats.urls, 'r');
    await server.spawn<Who>({ name: 'who', handlers: { who: ask(() => 'me') } }).ready;
    const client = await system(nats.urls, 'r');
    const who = client.ref<Who>('who');
    expect(await who.ask('who', null)).toBe('me');

    await nats.kill(0);
    await expect(who.ask('who', null, { timeoutMs: 300 })).rejects.toThrow();
    await nats.restart(0);
    // Both clients reconnect on their own and the subscription is restored.
    await expect(who.ask('who', null, { timeoutMs: 10_000 })).resolves.toBe('me');
  });

  it('actors on different servers of a cluster reach each other, and a client fails over', async () => {
    const nats = await startNats({ size: 3 });
    const portOf = (url: string) => url.split(':').pop();
    // The client knows every server and may land on any; the actor sits on another one.
    const client = await system(nats.urls, 'c');
    const clientServer = client.nc.getServer();
    const clientIndex = nats.urls.findIndex((u: string) => portOf(u) === portOf(clientServer));
    expect(clientIndex).toBeGreaterThanOrEqual(0);
    const actorIndex = (clientIndex + 1) % 3;
    const server = await system([nats.urls[actorIndex]!], 'c');
    await server.spawn<Who>({ name: 'who', handlers: { who: ask(() => 'there') } }).ready;
    const who = client.ref<Who>('who');
    // Retried until the subscription has travelled over the routes.
    expect(await who.ask('who', null, { timeoutMs: 5000 })).toBe('there');

    await nats.kill(clientIndex);
    await expect(who.ask('who', null, { timeoutMs: 10_000 })).resolves.toBe('there');
    expect(client.nc.getServer()).not.toBe(clientServer);
  });
});
