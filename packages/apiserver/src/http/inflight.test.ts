import { createRegistry, Gauge } from '@flotilla/actor';
import { StatusError } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { InflightLimiter } from './inflight.ts';

describe('InflightLimiter', () => {
  it('answers 429 with Retry-After beyond its bound, per kind, and frees slots once', async () => {
    const registry = createRegistry();
    const gauge = new Gauge({ name: 'g', help: 'g', labelNames: ['kind'], registers: [registry] });
    const limiter = new InflightLimiter({ readOnly: 2, mutating: 1 }, gauge);
    const write = limiter.acquire('mutating');
    let refused: unknown;
    try {
      limiter.acquire('mutating');
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(StatusError);
    expect((refused as StatusError).status).toMatchObject({ code: 429, details: { retryAfterSeconds: 1 } });
    // Reads have their own slots.
    const reads = [limiter.acquire('readOnly'), limiter.acquire('readOnly')];
    expect(() => limiter.acquire('readOnly')).toThrow(StatusError);
    write();
    write(); // a second release changes nothing
    const again = limiter.acquire('mutating');
    expect(() => limiter.acquire('mutating')).toThrow(StatusError);
    again();
    for (const r of reads) r();
    const values = (await registry.getSingleMetric('g')?.get())?.values ?? [];
    expect(values.map((v) => [v.labels.kind, v.value])).toEqual([
      ['mutating', 0],
      ['readOnly', 0],
    ]);
  });
});
