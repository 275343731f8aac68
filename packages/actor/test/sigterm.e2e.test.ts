import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startNats } from '@flotilla/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { ActorSystem, type Ask, NoRespondersError, silentLogger } from '../src/index.ts';

type Slow = { slow: Ask<{ ms: number; n: number }, number> };
const fixture = fileURLToPath(new URL('./fixtures/slow-actor.ts', import.meta.url));
let client: ActorSystem | undefined;
afterAll(() => client?.shutdown({ timeoutMs: 500 }));

describe('graceful shutdown', () => {
  it('SIGTERM lets in-flight asks finish, then the actor is gone', async () => {
    const nats = await startNats();
    const child = spawn(process.execPath, [fixture, nats.urls.join(','), 'g'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = await Promise.race([
      once(child.stdout!, 'data'),
      once(child, 'exit').then(() => {
        throw new Error('fixture exited before it was ready');
      }),
    ]);
    expect(String(line)).toContain('ready');
    client = await ActorSystem.connect({ servers: nats.urls, log: silentLogger(), prefix: 'g' });
    const slow = client.ref<Slow>('slow');
    const inflight = Array.from({ length: 10 }, (_, n) =>
      slow.ask('slow', { ms: 600, n }, { timeoutMs: 5000 }),
    );
    await new Promise((r) => setTimeout(r, 150)); // all ten are being handled now
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await expect(Promise.all(inflight)).resolves.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const [code] = await exited;
    expect(code).toBe(0);
    await expect(slow.ask('slow', { ms: 1, n: 0 }, { timeoutMs: 300 })).rejects.toBeInstanceOf(
      NoRespondersError,
    );
  });
});
