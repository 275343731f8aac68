import { silentLogger } from '@flotilla/actor';
import type { Container, Probe } from '@flotilla/api';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ProbeManager } from './probe-manager.ts';
import type { ProbeResult, Prober } from './prober.ts';

/** A prober whose answers the test sets per probe kind, recording every call. */
class ScriptedProber implements Prober {
  readonly answers = new Map<string, boolean>();
  readonly calls: string[] = [];
  async probe(probe: Probe): Promise<ProbeResult> {
    const kind = probe.exec?.command?.[0] ?? '?';
    this.calls.push(kind);
    return { ok: this.answers.get(kind) ?? true, message: `${kind} said so` };
  }
  async handler(): Promise<ProbeResult> {
    return { ok: true, message: '' };
  }
}

const probe = (kind: string, extra: Partial<Probe> = {}): Probe => ({
  exec: { command: [kind] },
  periodSeconds: 1,
  ...extra,
});

// Fake timers move Date.now() too: the manager's clock and its timers agree.
beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => vi.useRealTimers());

function setup(
  container: Container,
  options: { seed?: { ready: boolean; started: boolean }; answers?: Record<string, boolean> } = {},
) {
  const prober = new ScriptedProber();
  for (const [k, v] of Object.entries(options.answers ?? {})) prober.answers.set(k, v);
  const changes: string[] = [];
  const m = new ProbeManager({ prober, onChange: (uid) => changes.push(uid), logger: silentLogger() });
  // The first probes run right away, inside syncPod.
  m.syncPod('pod', [{ id: 'c1', container, startedAtMs: Date.now() }], '10.0.0.2', () => options.seed);
  const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);
  return { prober, changes, m, tick };
}

describe('ProbeManager', () => {
  test('readiness: not ready until the first success; flips only after failureThreshold failures', async () => {
    const { prober, changes, m, tick } = setup({
      name: 'c',
      readinessProbe: probe('ready', { failureThreshold: 3 }),
    });
    expect(m.isReady('c1')).toBe(false);
    await tick(1);
    expect(m.isReady('c1')).toBe(true);
    expect(changes).toEqual(['pod']);
    prober.answers.set('ready', false);
    await tick(1_000);
    await tick(1_000);
    expect(m.isReady('c1')).toBe(true);
    await tick(1_000);
    expect(m.isReady('c1')).toBe(false);
    expect(changes.length).toBe(2);
    m.stop();
  });

  test('a startup probe holds liveness and readiness back; liveness failure puts the container on hold', async () => {
    const { prober, m, tick } = setup(
      {
        name: 'c',
        startupProbe: probe('startup', { failureThreshold: 100 }),
        livenessProbe: probe('live', { failureThreshold: 1 }),
        readinessProbe: probe('ready'),
      },
      { answers: { startup: false } },
    );
    await tick(1);
    await tick(3_000);
    expect(prober.calls.filter((k) => k !== 'startup')).toEqual([]);
    expect(m.isStarted('c1')).toBe(false);
    prober.answers.set('startup', true);
    await tick(1_000);
    expect(m.isStarted('c1')).toBe(true);
    await tick(1_000);
    expect(m.isReady('c1')).toBe(true);
    prober.answers.set('live', false);
    await tick(1_000);
    expect(m.unhealthy('c1', 'c')?.message).toBe(
      'Container c failed liveness probe, will be restarted: live said so',
    );
    const calls = prober.calls.filter((k) => k === 'live').length;
    await tick(5_000);
    expect(prober.calls.filter((k) => k === 'live').length).toBe(calls);
    m.stop();
  });

  test('initialDelaySeconds; workers go with their container; a seed restores what was known', async () => {
    const { prober, m, tick } = setup({
      name: 'c',
      readinessProbe: probe('ready', { initialDelaySeconds: 3 }),
    });
    await tick(2_500);
    expect(prober.calls).toEqual([]);
    await tick(1_000);
    expect(prober.calls).toEqual(['ready']);
    m.syncPod('pod', [], '', () => undefined);
    expect(m.workerCount).toBe(0);
    await tick(5_000);
    expect(prober.calls).toEqual(['ready']);

    const seeded = setup(
      { name: 'c', readinessProbe: probe('ready', { initialDelaySeconds: 30 }) },
      { seed: { ready: true, started: true } },
    );
    expect(seeded.m.isReady('c1')).toBe(true);
    seeded.m.stop();
  });
});
