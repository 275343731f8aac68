import { tempDir } from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../mvcc/commands.ts';
import { LeaseNotFoundError, LessorNotPrimaryError, resultOrThrow } from '../mvcc/errors.ts';
import { StateMachine } from '../mvcc/state-machine.ts';
import type { Command } from '../mvcc/types.ts';
import { Lessor, type LessorOptions } from './lessor.ts';

const b = (s: string) => Buffer.from(s, 'utf8');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

class FakeClock {
  now = 1_000_000;
  readonly read = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

function setup(options: Partial<LessorOptions> = {}) {
  const sm = StateMachine.open({ dir: tempDir('store-lessor') });
  const clock = new FakeClock();
  const lessor = new Lessor(sm, { clock: clock.read, ...options });
  cleanups.push(() => sm.close());
  cleanups.push(() => lessor.close());
  const apply = (...commands: Command[]) =>
    commands.map((c) => resultOrThrow(sm.apply(sm.appliedIndex + 1, encodeCommand(c))));
  /** Propose what the lessor says is due, as the server would, and return it. */
  const round = () => {
    const due = lessor.due();
    apply(...due);
    return due;
  };
  return { sm, clock, lessor, apply, round };
}

describe('lessor', () => {
  it('answers only as primary', () => {
    const { lessor, apply } = setup();
    apply({ kind: 'leaseGrant', id: 1, ttlSeconds: 10 });
    expect(() => lessor.renew(1)).toThrow(LessorNotPrimaryError);
    expect(() => lessor.timeToLive(1)).toThrow(LessorNotPrimaryError);
    expect(lessor.due()).toEqual([]);
    expect(lessor.nextDueMs()).toBeUndefined();
  });

  it('expires a lease at its deadline through the log, and keep-alive pushes the deadline', () => {
    const { sm, clock, lessor, apply, round } = setup();
    lessor.promote();
    apply(
      { kind: 'leaseGrant', id: 1, ttlSeconds: 10 },
      { kind: 'put', key: b('k'), value: b('v'), lease: 1 },
    );
    expect(lessor.timeToLive(1)).toEqual({ id: 1, grantedTtlSeconds: 10, remainingSeconds: 10 });
    clock.advance(9_000);
    expect(round()).toEqual([]);
    expect(lessor.renew(1)).toEqual({ ttlSeconds: 10 });
    clock.advance(9_500);
    expect(lessor.timeToLive(1).remainingSeconds).toBe(1);
    expect(round()).toEqual([]);
    expect(lessor.nextDueMs()).toBe(clock.now + 500);
    clock.advance(500);
    expect(() => lessor.renew(1)).toThrow(LeaseNotFoundError);
    expect(round()).toEqual([{ kind: 'leaseExpire', ids: [1] }]);
    expect(sm.leases()).toEqual([]);
    expect(sm.range({ key: b('k') }).count).toBe(0);
    expect(() => lessor.timeToLive(1)).toThrow(LeaseNotFoundError);
    clock.advance(60_000);
    expect(lessor.due()).toEqual([]);
  });

  it('proposes a lost expiry again after the retry interval, not before', () => {
    const { clock, lessor, apply } = setup({ expiryRetryMs: 3000 });
    lessor.promote();
    apply({ kind: 'leaseGrant', id: 1, ttlSeconds: 1 });
    clock.advance(1000);
    expect(lessor.due()).toEqual([{ kind: 'leaseExpire', ids: [1] }]); // and the proposal is lost
    clock.advance(2999);
    expect(lessor.due()).toEqual([]);
    clock.advance(1);
    expect(lessor.due()).toEqual([{ kind: 'leaseExpire', ids: [1] }]);
  });

  it('bounds the expiries of one round; the rest follow', () => {
    const { clock, lessor, apply, round } = setup({ maxExpiriesPerRound: 2 });
    lessor.promote();
    apply(...[1, 2, 3, 4, 5].map((id): Command => ({ kind: 'leaseGrant', id, ttlSeconds: 5 })));
    clock.advance(5000);
    const rounds = [round(), round(), round(), round()];
    expect(rounds.map((r) => r.flatMap((c) => (c.kind === 'leaseExpire' ? c.ids : [])))).toEqual([
      [1, 2],
      [3, 4],
      [5],
      [],
    ]);
  });

  it('checkpoints long leases so a new leader resumes from the remaining TTL, not the full one', () => {
    const { sm, clock, lessor, apply, round } = setup({ checkpointIntervalMs: 60_000 });
    lessor.promote();
    apply({ kind: 'leaseGrant', id: 1, ttlSeconds: 600 });
    clock.advance(60_000);
    expect(round()).toEqual([
      { kind: 'leaseCheckpoint', checkpoints: [{ id: 1, remainingTtlSeconds: 540 }] },
    ]);
    expect(sm.leases()).toEqual([{ id: 1, ttlSeconds: 600, remainingTtlSeconds: 540 }]);
    clock.advance(100_000);
    // Leader change: the old leader steps down, a new lessor (another member) takes over.
    lessor.demote();
    const successor = new Lessor(sm, { clock: clock.read, checkpointIntervalMs: 60_000 });
    cleanups.push(() => successor.close());
    successor.promote(2000);
    expect(successor.timeToLive(1)).toEqual({ id: 1, grantedTtlSeconds: 600, remainingSeconds: 542 });
    clock.advance(541_999);
    expect(successor.due().filter((c) => c.kind === 'leaseExpire')).toEqual([]);
    clock.advance(1);
    expect(successor.due()).toEqual([{ kind: 'leaseExpire', ids: [1] }]);
  });

  it('starts a lease without a checkpoint from its full TTL on promotion, plus the extension', () => {
    const { clock, lessor, apply } = setup({ checkpointIntervalMs: 60_000 });
    apply({ kind: 'leaseGrant', id: 2, ttlSeconds: 30 });
    clock.advance(20_000); // time passes on a follower: it keeps no clock
    lessor.promote(2000);
    expect(lessor.timeToLive(2)).toEqual({ id: 2, grantedTtlSeconds: 30, remainingSeconds: 32 });
    expect(lessor.nextDueMs()).toBe(clock.now + 32_000);
  });

  it('clears a stored remaining TTL after a keep-alive, so a failover cannot cut the lease short', () => {
    const { sm, clock, lessor, apply, round } = setup({ checkpointIntervalMs: 10_000 });
    lessor.promote();
    apply({ kind: 'leaseGrant', id: 1, ttlSeconds: 100 });
    clock.advance(10_000);
    round();
    expect(sm.leases()[0]?.remainingTtlSeconds).toBe(90);
    lessor.renew(1);
    expect(lessor.nextDueMs()).toBe(clock.now);
    expect(round()).toEqual([{ kind: 'leaseCheckpoint', checkpoints: [{ id: 1, remainingTtlSeconds: 0 }] }]);
    expect(sm.leases()[0]?.remainingTtlSeconds).toBe(0);
    lessor.renew(1);
    expect(lessor.due()).toEqual([]); // nothing stored to clear
  });

  it('bounds checkpoints per round', () => {
    const { clock, lessor, apply, round } = setup({ checkpointIntervalMs: 1000, maxCheckpointsPerRound: 2 });
    lessor.promote();
    apply(...[1, 2, 3].map((id): Command => ({ kind: 'leaseGrant', id, ttlSeconds: 50 })));
    clock.advance(1000);
    const sizes = [round(), round()].map((r) =>
      r.flatMap((c) => (c.kind === 'leaseCheckpoint' ? c.checkpoints.map((cp) => cp.id) : [])),
    );
    expect(sizes).toEqual([[1, 2], [3]]);
  });

  it('steps down when the store closes', async () => {
    const { sm, lessor } = setup();
    lessor.promote();
    expect(lessor.primary).toBe(true);
    await sm.close();
    expect(lessor.primary).toBe(false);
    expect(lessor.due()).toEqual([]);
  });

  it('clamps granted TTLs to the minimum and etcd maximum', () => {
    const { lessor } = setup({ minTtlSeconds: 5 });
    expect(lessor.grantTtlSeconds(1)).toBe(5);
    expect(lessor.grantTtlSeconds(7.2)).toBe(8);
    expect(lessor.grantTtlSeconds(1e12)).toBe(9_000_000_000);
  });

  it('forgets revoked leases and tracks grants applied while primary', () => {
    const { clock, lessor, apply } = setup();
    lessor.promote();
    apply({ kind: 'leaseGrant', id: 1, ttlSeconds: 5 }, { kind: 'leaseGrant', id: 2, ttlSeconds: 5 });
    apply({ kind: 'leaseRevoke', id: 1 });
    expect(() => lessor.renew(1)).toThrow(LeaseNotFoundError);
    clock.advance(5000);
    expect(lessor.due()).toEqual([{ kind: 'leaseExpire', ids: [2] }]);
  });
});
