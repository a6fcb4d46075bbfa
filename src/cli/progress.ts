import type { CliIO } from './command.js';

export interface Progress {
  /** Reports the running count; cheap to call per item, redraws at most a few times a second. */
  update(done: number): void;
  /** Clears the progress line so the final report starts on a clean line. */
  done(): void;
}

const REDRAW_MS = 200;

/**
 * A one-line progress counter on stderr, shown only when stderr is a terminal so that pipes, files
 * and CI logs get nothing but the final report. `total` is an estimate (DynamoDB's ItemCount lags).
 * Counts are grouped the same way (`1,032`) whatever the machine's locale.
 */
export function progressReporter(
  io: CliIO,
  label: string,
  total?: number,
  clock: () => number = () => performance.now(),
): Progress {
  if (!io.stderr.isTTY) return { update: () => {}, done: () => {} };
  const started = clock();
  let last = -Infinity;
  let shown = false;
  return {
    update(done) {
      const now = clock();
      if (now - last < REDRAW_MS) return;
      last = now;
      shown = true;
      const rate = Math.round(done / Math.max((now - started) / 1000, 0.001));
      const of = total ? ` of ~${total.toLocaleString('en-US')}` : '';
      io.stderr.write(
        `\r\x1b[K${label}: ${done.toLocaleString('en-US')}${of} items (${rate.toLocaleString('en-US')}/s)`,
      );
    },
    done() {
      if (shown) io.stderr.write('\r\x1b[K');
    },
  };
}
