/**
 * Retry timing for throttled or unprocessed requests: capped exponential backoff with full jitter
 * (a uniformly random delay between 0 and the capped exponential), which spreads retries of many
 * concurrent writers instead of having them collide again.
 */

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  readonly maxAttempts: number;
  /** Cap of the delay before the first retry; it doubles for each later retry. */
  readonly baseDelayMs: number;
  /** Upper bound of any single delay. */
  readonly maxDelayMs: number;
}

/** The upper bound of the delay before retry number `attempt` (1 = first retry), without jitter. */
export function backoffCeiling(attempt: number, policy: RetryPolicy): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** 1100 is Infinity, which Math.min caps, so large attempt numbers are safe.
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
}

/**
 * Delay in milliseconds before retry number `attempt` (1 = first retry): uniform in
 * [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))). Inject `random` for deterministic tests.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * backoffCeiling(attempt, policy));
}

/** Waits `ms` milliseconds; rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Node sets `reason` to an AbortError DOMException when abort() is called without one. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason;
}
