/**
 * The cut-over filter (`TurnoverRole` / `TurnoverAt`) that lets two deployments hand a stream over
 * without a gap or a double write: the old one runs as BEFORE and keeps records created strictly
 * before the cut-over instant, the new one runs as AFTER and keeps every other record. Every record
 * is kept by exactly one side.
 *
 * Times are epoch milliseconds. Lambda reports `ApproximateCreationDateTime` in seconds, sometimes
 * with a fraction; change-sources converts it with `secondsToEpochMs`, which truncates below the
 * millisecond (never rounds up). For an integer `at`, `t < at` holds exactly when `floor(t) < at`,
 * so the truncation never moves a record across the boundary.
 *
 * A record without a creation time is treated as created after any cut-over: AFTER keeps it, BEFORE
 * drops it. Reason: the cut-over is configured for the deployment taking over, so an undated record
 * belongs to the newer side; and it keeps the rule "every record goes to exactly one side".
 */
import type { Change } from './change.js';

export type TurnoverRole = 'BEFORE' | 'AFTER';

export interface TurnoverFilter {
  readonly role: TurnoverRole;
  /** Cut-over instant, epoch milliseconds (an integer). */
  readonly at: number;
}

/** True when the filter keeps a record created at `creationTime` (epoch ms, undefined = unknown). */
export function turnoverKeeps(filter: TurnoverFilter, creationTime: number | undefined): boolean {
  const before = creationTime !== undefined && creationTime < filter.at;
  return filter.role === 'BEFORE' ? before : !before;
}

/** The changes the filter keeps, in order; everything when there is no filter. */
export function applyTurnover(
  changes: readonly Change[],
  filter: TurnoverFilter | undefined,
): readonly Change[] {
  if (!filter) return changes;
  return changes.filter((c) => turnoverKeeps(filter, c.approximateCreationTime));
}

/**
 * Epoch seconds (possibly fractional, as Lambda sends them) -> epoch milliseconds, truncated to a
 * whole millisecond. Works on the shortest decimal text of the number rather than on `x * 1000`,
 * whose binary rounding can land one millisecond low (1700000000.001 * 1000 = 1700000000000.9998).
 */
export function secondsToEpochMs(seconds: number): number {
  const text = String(seconds);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return Math.floor(seconds * 1000); // exponent form: far from any real timestamp
  const whole = Number(match[1]);
  const millis = Number(((match[2] ?? '') + '000').slice(0, 3));
  return whole * 1000 + millis;
}
