import { spawnSync } from 'node:child_process';
import { startNats } from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from './actor-system.ts';
import {
  clearFailpoint,
  type FailpointProtocol,
  failpoint,
  failpointEnabled,
  failpointStatus,
  failpointsActorName,
  failpointsArmed,
  parseFailpointEnv,
  serveFailpoints,
  setFailpoint,
} from './failpoints.ts';
import { silentLogger } from './logger.ts';

afterEach(() => clearFailpoint());

describe('failpoints', () => {
  it('are not armed in a process started without FLOTILLA_FAILPOINTS', () => {
    expect(process.env.FLOTILLA_FAILPOINTS ?? '').toBe('');
    expect(failpointsArmed).toBe(false);
  });

  it('parse the environment: empty is off, a word arms, JSON arms and activates', () => {
    expect(parseFailpointEnv(undefined).armed).toBe(false);
    expect(parseFailpointEnv(' ').armed).toBe(false);
    expect(parseFailpointEnv('1')).toMatchObject({ armed: true });
    const env = parseFailpointEnv('{"wal.beforeSync":{"action":{"kind":"delay","ms":5},"skipHits":2}}');
    expect(env.armed).toBe(true);
    expect(env.initial.get('wal.beforeSync')).toEqual({ action: { kind: 'delay', ms: 5 }, skipHits: 2 });
    expect(() => parseFailpointEnv('{"wal.nope":{"action":{"kind":"crash"}}}')).toThrow(/no failpoint/);
    expect(() => parseFailpointEnv('{"wal.beforeSync":{"action":{"kind":"delay","ms":-1}}}')).toThrow(
      /delay/,
    );
  });

  it('count hits, skip the first ones, act a bounded number of times', async () => {
    const before = failpointStatus()['raft.beforeApply']?.hits ?? 0;
    setFailpoint('raft.beforeApply', { action: { kind: 'error' }, skipHits: 1, maxActions: 2 });
    await failpoint('raft.beforeApply'); // skipped
    await expect(failpoint('raft.beforeApply')).rejects.toMatchObject({ code: 'Failpoint' });
    await expect(failpoint('raft.beforeApply')).rejects.toMatchObject({ code: 'Failpoint' });
    await failpoint('raft.beforeApply'); // past maxActions: only counted
    expect(failpointStatus()['raft.beforeApply']).toMatchObject({ hits: before + 4, actions: 2 });
    clearFailpoint('raft.beforeApply');
    await failpoint('raft.beforeApply');
    expect(failpointStatus()['raft.beforeApply']).toMatchObject({ spec: null, hits: before + 5 });
  });

  it('delay, and switch broken behaviour on and off', async () => {
    setFailpoint('wal.afterSync', { action: { kind: 'delay', ms: 60 } });
    const t0 = performance.now();
    await failpoint('wal.afterSync');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    expect(failpointEnabled('store.readWithoutReadIndex')).toBe(false);
    setFailpoint('store.readWithoutReadIndex', { action: { kind: 'enable' } });
    expect(failpointEnabled('store.readWithoutReadIndex')).toBe(true);
    expect(() => setFailpoint('wal.afterSync', { action: { kind: 'delay', ms: 1e9 } })).toThrow(/delay/);
  });

  it('crash kills the process on the spot', () => {
    const script = [
      "import { failpoint, failpointsArmed } from './packages/actor/src/failpoints.ts';",
      'if (!failpointsArmed) process.exit(3);',
      "process.stdout.write('before\\n');",
      "await failpoint('wal.beforeSync');",
      "process.stdout.write('after\\n');",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('../../..', import.meta.url).pathname,
      env: { ...process.env, FLOTILLA_FAILPOINTS: '{"wal.beforeSync":{"action":{"kind":"crash"}}}' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stdout).toBe('before\n');
    expect(r.signal).toBe('SIGKILL');
  });

  it('are switched from another process through the control actor', async () => {
    const nats = await startNats();
    const server = await ActorSystem.connect({ servers: nats.urls, log: silentLogger(), prefix: 'fp' });
    const client = await ActorSystem.connect({ servers: nats.urls, log: silentLogger(), prefix: 'fp' });
    try {
      const host = serveFailpoints(server, 'm1');
      await host.ready;
      const ref = client.ref<FailpointProtocol>(failpointsActorName('m1'));
      const set = await ref.ask('set', { name: 'raft.snapshotSend', spec: { action: { kind: 'error' } } });
      expect(set['raft.snapshotSend']?.spec).toEqual({ action: { kind: 'error' } });
      await expect(failpoint('raft.snapshotSend')).rejects.toMatchObject({ code: 'Failpoint' });
      await expect(
        ref.ask('set', { name: 'raft.nope' as 'raft.snapshotSend', spec: { action: { kind: 'crash' } } }),
      ).rejects.toMatchObject({ code: 'Failpoint' });
      const cleared = await ref.ask('clear', {});
      expect(cleared['raft.snapshotSend']).toMatchObject({ spec: null, actions: 1 });
      await host.stop(1_000);
    } finally {
      await client.shutdown({ timeoutMs: 500 });
      await server.shutdown({ timeoutMs: 500 });
    }
  });
});
