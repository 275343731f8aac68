import { randomBytes } from 'node:crypto';

/**
 * A seeded generator (mulberry32) for the core's election timeouts. The driver seeds it
 * from the OS; the simulator seeds it from the run's seed, which is what makes a run
 * replayable.
 */
export function seededRandom(seed = randomBytes(4).readUInt32LE(0)): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
