/**
 * Times on the command line: ISO 8601 or epoch milliseconds, read the same way on every machine. A
 * date-time without an offset is UTC (not the machine's time zone), and a date alone is its UTC
 * midnight, so a command means the same instant wherever it runs.
 */
import { UsageError } from './errors.js';

const ISO = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses a time argument: an ISO 8601 date(-time) or epoch milliseconds. UsageError naming `label`. */
export function parseTimeArgument(text: string, label: string): number {
  const raw = text.trim();
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  const m = ISO.exec(raw);
  let ms = NaN;
  if (m) {
    const [, day, clock, zone] = m;
    const offset = zone === undefined ? 'Z' : zone.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2').toUpperCase();
    ms = Date.parse(clock === undefined ? `${day}T00:00:00Z` : `${day}T${clock}${offset}`);
  }
  if (!Number.isFinite(ms))
    throw new UsageError(
      `${label} must be an ISO 8601 time (e.g. 2026-11-27T09:30:00Z) or epoch milliseconds, got "${text}"`,
    );
  return ms;
}

/** `2026-11-27T09:30:00.000Z (1795771800000)`: both forms a time option accepts. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString()} (${ms})`;
}
