/** Shared pieces of the batch helpers: the "not processed" error and cancellation linking. */
import { UnprocessedError } from '../core/errors.js';

/**
 * UnprocessedError listing every key (canonical JSON) per table; the message shows the first ten
 * keys of each table and the counts.
 */
export function unprocessedError(
  what: 'write(s) were not made' | 'key(s) were not read',
  attempts: number,
  unprocessed: ReadonlyArray<{ readonly table: string; readonly keys: readonly string[] }>,
  count = unprocessed.reduce((sum, u) => sum + u.keys.length, 0),
): UnprocessedError {
  const sample = unprocessed
    .map(({ table, keys }) => {
      const more = keys.length > 10 ? ` and ${keys.length - 10} more` : '';
      return `table "${table}": ${keys.slice(0, 10).join(', ')}${more}`;
    })
    .join('; ');
  return new UnprocessedError(
    `${count} ${what} after ${attempts} attempts (DynamoDB kept returning them as unprocessed ` +
      `or throttled them): ${sample}`,
    unprocessed,
  );
}

/**
 * An AbortController that also aborts when `outer` does, so a helper can cancel its own work
 * (after a failure, or when its consumer stops) without touching the caller's signal.
 */
export function linkedAbortController(outer: AbortSignal | undefined): {
  readonly controller: AbortController;
  readonly dispose: () => void;
} {
  const controller = new AbortController();
  if (!outer) return { controller, dispose: () => undefined };
  const onAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return { controller, dispose: () => outer.removeEventListener('abort', onAbort) };
}
