export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** Fraction of the delay drawn at random (0 = fixed delays, 1 = anywhere in [0, delay]). */
  readonly jitter: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 20, maxMs: 1000, multiplier: 2, jitter: 0.5 };

/** Delay before retry number `attempt` (0-based). */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy = defaultBackoff,
  random = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** Math.min(attempt, 30));
  return Math.round(base * (1 - policy.jitter * random()));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
