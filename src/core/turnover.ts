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

/**
 * The range a cut-over instant must fall in: from 2012-01-01 (DynamoDB's launch; no stream record is
 * older) to 2100-01-01 (fixed, so the check does not depend on today's date). Epoch seconds of any
 * date in that range (about 1.3e9 to 4.1e9) fall far below it, and so do they land in it times 1000:
 * a value given in seconds is refused and named as such instead of making BEFORE drop every record.
 */
export const TURNOVER_AT_MIN = Date.UTC(2012, 0, 1);
export const TURNOVER_AT_MAX = Date.UTC(2100, 0, 1);

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Why `text` is not a usable cut-over instant (epoch milliseconds of a date from TURNOVER_AT_MIN to
 * TURNOVER_AT_MAX), or undefined when it is. The Lambda variable and the CLI option prefix their name.
 */
export function turnoverAtProblem(text: string): string | undefined {
  const range = `epoch milliseconds of a date from ${isoDay(TURNOVER_AT_MIN)} to ${isoDay(TURNOVER_AT_MAX)}`;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    return `must be a whole number of ${range}, got "${text}"`;
  }
  const at = Number(text);
  if (at >= TURNOVER_AT_MIN && at <= TURNOVER_AT_MAX) return undefined;
  const scaled = (factor: number): boolean =>
    at * factor >= TURNOVER_AT_MIN && at * factor <= TURNOVER_AT_MAX;
  const hint = scaled(1000)
    ? `: it looks like epoch seconds; in milliseconds that is ${at * 1000} (${new Date(at * 1000).toISOString()})`
    : scaled(0.001)
      ? `: it looks like epoch microseconds; in milliseconds that is ${Math.floor(at / 1000)}`
      : '';
  return `must be ${range}, got ${text}${hint}`;
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
