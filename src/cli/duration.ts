import { UsageError } from '../core/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration such as `500ms`, `2s`, `1.5m` or `1h` (a bare number is seconds). */
export function durationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  return m ? Math.round(Number(m[1]) * (UNITS[m[2] ?? 's'] as number)) : undefined;
}

/** A duration option in milliseconds; UsageError naming the option when it is not a duration. */
export function parseDuration(text: string, option: string): number {
  const ms = durationMs(text);
  if (ms === undefined) {
    throw new UsageError(`--${option} must be a duration such as 500ms, 2s, 1m or 1h, got "${text}"`);
  }
  return ms;
}
