/**
 * Ctrl-C and `kill` as an AbortSignal, for commands that run until stopped and must finish their
 * current work (commit a checkpoint, close a page) instead of dying mid-write.
 */
export interface StopSignals {
  readonly signal: AbortSignal;
  /** Removes the handlers (call in `finally`). */
  dispose(): void;
}

export function stopOnSignals(): StopSignals {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: stop.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
