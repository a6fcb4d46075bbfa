/**
 * Virtual time for code that paces itself (capacity budgets, progress redraws): `sleep` moves the
 * clock forward instead of waiting, so a rate computed on this clock is the same on a fast machine
 * and on a loaded one. Concurrent sleepers started at the same moment end at the latest of their
 * targets, as they would on a real clock.
 */
export interface VirtualClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  advance(ms: number): void;
}

export function virtualClock(start = 0): VirtualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
    async sleep(ms, signal) {
      signal?.throwIfAborted();
      const target = t + Math.max(0, ms);
      // Yield a turn so other callers interleave as they would with a timer.
      await new Promise<void>((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
      t = Math.max(t, target);
    },
  };
}
