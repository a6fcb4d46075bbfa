import { UsageError } from '../core/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration option such as `500ms`, `2s`, `1.5m` or `1h` into milliseconds; a bare number
 * is seconds. UsageError naming the option otherwise.
 */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(`--${option} must be a duration such as 500ms, 2s, 1m or 1h, got "${text}"`);
  }
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 's'] as number));
}
