import { createRegistry, silentLogger } from '@flotilla/actor';
import type { ApiClient, KubeObject, Lease, ResourceClient, ResourceRef } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { leasesResource } from '../resources.ts';
import { MemoryApi, serverError } from '../testing/memory-api.ts';
import { waitFor } from '../testing/wait.ts';
import { LeaderElector, type LeaderTerm } from './leader-elector.ts';

/** A client whose requests can be made to fail or to hang, like a process cut off the network. */
function cuttable(api: MemoryApi): { client: ApiClient; cut: (mode: 'fail' | 'hang' | 'none') => void } {
  let mode: 'fail' | 'hang' | 'none' = 'none';
  const gate = async <R>(f: () => Promise<R>): Promise<R> => {
    if (mode === 'fail') throw serverError('network cut');
    if (mode === 'hang') return new Promise<R>(() => {});
    return f();
  };
  const client: ApiClient = {
    resource<T extends KubeObject>(ref: ResourceRef): ResourceClient<T> {
      const inner = api.resource<T>(ref);
      return {
        ref,
        get: (n, ns) => gate(() => inner.get(n, ns)),
        list: (o) => gate(() => inner.list(o)),
        watch: (o) => inner.watch(o),
        create: (o, w) => gate(() => inner.create(o, w)),
        update: (o, w) => gate(() => inner.update(o, w)),
        updateStatus: (o, w) => gate(() => inner.updateStatus(o, w)),
        patch: (n, t, p, o) => gate(() => inner.patch(n, t, p, o)),
        delete: (n, o) => gate(() => inner.delete(n, o)),
      };
    },
    bind: (ns, p, n) => gate(() => api.bind(ns, p, n)),
    logs: () => api.logs(),
  };
  return { client, cut: (m) => (mode = m) };
}

type Timeline = { started: number[]; stopped: number[]; terms: LeaderTerm[] };

const electors: LeaderElector[] = [];

function candidate(client: ApiClient, identity: string, timings = { lease: 1000, renew: 600, retry: 100 }) {
  const timeline: Timeline = { started: [], stopped: [], terms: [] };
  const e = new LeaderElector({
    client,
    log: silentLogger(),
    registry: createRegistry(),
    namespace: 'kube-system',
    name: 'test-lock',
    identity,
    leaseDurationMs: timings.lease,
    renewDeadlineMs: timings.renew,
    retryPeriodMs: timings.retry,
  });
  e.start({
    onStartedLeading: (term) => {
      timeline.started.push(performance.now());
      timeline.terms.push(term);
    },
    onStoppedLeading: async () => {
      timeline.stopped.push(performance.now());
    },
  });
  electors.push(e);
  return { e, timeline };
}

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
});

describe('LeaderElector', () => {
  it('acquires a free lease, records itself as holder, and releases it on stop', async () => {
    const api = new MemoryApi();
    const { e, timeline } = candidate(api, 'a');
    await waitFor('leading', () => e.isLeader);
    const lease = await api.resource<Lease>(leasesResource).get('test-lock', 'kube-system');
    expect(lease.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(timeline.terms[0]?.revision).toBe(Number(lease.metadata.resourceVersion));
    await e.stop();
    expect(timeline.stopped).toHaveLength(1);
    expect(timeline.terms[0]?.signal.aborted).toBe(true);
    expect(timeline.terms[0]?.isCurrent()).toBe(false);
    const released = await api.resource<Lease>(leasesResource).get('test-lock', 'kube-system');
    expect(released.spec?.holderIdentity).toBe('');
  });

  it('keeps one leader among candidates, renewing while the others wait', async () => {
    const api = new MemoryApi();
    const all = ['a', 'b', 'c'].map((id) => candidate(api, id));
    await waitFor('a leader', () => all.some((c) => c.e.isLeader));
    await new Promise((r) => setTimeout(r, 1500)); // longer than the lease: renewals keep it
    expect(all.filter((c) => c.e.isLeader)).toHaveLength(1);
    expect(all.reduce((n, c) => n + c.timeline.started.length, 0)).toBe(1);
  });

  it('hands over at once on a graceful release (the lease watch sees it)', async () => {
    const api = new MemoryApi();
    const a = candidate(api, 'a');
    await waitFor('a leads', () => a.e.isLeader);
    const b = candidate(api, 'b');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.e.isLeader).toBe(false);
    const releasedAt = performance.now();
    await a.e.stop();
    await waitFor('b leads', () => b.e.isLeader);
    const takeoverMs = (b.timeline.started[0] ?? 0) - releasedAt;
    expect(takeoverMs).toBeLessThan(100 * 1.2 + 250);
    const lease = await api.resource<Lease>(leasesResource).get('test-lock', 'kube-system');
    expect(lease.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  for (const mode of ['fail', 'hang'] as const) {
    it(`a holder cut off (${mode}) stops working before a standby can take over`, async () => {
      const api = new MemoryApi();
      const link = cuttable(api);
      const a = candidate(link.client, 'a');
      await waitFor('a leads', () => a.e.isLeader);
      const b = candidate(api, 'b');
      await new Promise((r) => setTimeout(r, 300));
      const cutAt = performance.now();
      link.cut(mode);
      await waitFor('b leads', () => b.e.isLeader, 5_000);
      const aStopped = a.timeline.stopped[0];
      const bStarted = b.timeline.started[0];
      expect(aStopped).toBeDefined();
      expect(bStarted).toBeDefined();
      // Stopped within the renew deadline of its last renewal, before b could start.
      expect((aStopped ?? 0) - cutAt).toBeLessThan(600 + 50);
      expect(aStopped).toBeLessThan(bStarted ?? 0);
      expect(a.timeline.terms[0]?.isCurrent()).toBe(false);
      // b waited out the lease from its last observation: at most lease + 2 retry periods.
      expect((bStarted ?? 0) - cutAt).toBeGreaterThan(1000 - 100 * 1.2);
      expect((bStarted ?? 0) - cutAt).toBeLessThan(1000 + 2 * 120 + 300);
      link.cut('none');
      await b.e.stop();
      await waitFor('a leads again', () => a.e.isLeader, 3_000);
      // b held the lease in between: a must catch up with what b wrote.
      expect(a.timeline.terms[1]?.continuesOwnTerm).toBe(false);
    });
  }

  it('knows when it regains a term nobody else held in between', async () => {
    const api = new MemoryApi();
    const link = cuttable(api);
    const a = candidate(link.client, 'a');
    await waitFor('a leads', () => a.e.isLeader);
    expect(a.timeline.terms[0]?.continuesOwnTerm).toBe(false);
    link.cut('fail');
    await waitFor('a lost its term', () => a.timeline.stopped.length === 1, 2_000);
    link.cut('none');
    await waitFor('a leads again', () => a.e.isLeader, 3_000);
    expect(a.timeline.terms[1]?.continuesOwnTerm).toBe(true);
  });

  it('refuses timings that would let two leaders overlap', () => {
    const make = (lease: number, renew: number, retry: number) =>
      new LeaderElector({
        client: new MemoryApi(),
        log: silentLogger(),
        registry: createRegistry(),
        namespace: 'kube-system',
        name: 'x',
        leaseDurationMs: lease,
        renewDeadlineMs: renew,
        retryPeriodMs: retry,
      });
    expect(() => make(2000, 2000, 100)).toThrow(ConfigError);
    expect(() => make(1500, 1000, 100)).toThrow(ConfigError);
    expect(() => make(2000, 1000, 900)).toThrow(ConfigError);
    expect(() => make(2000, 1000, 100)).not.toThrow();
  });
});
