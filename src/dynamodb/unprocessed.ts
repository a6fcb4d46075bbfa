/** Shared pieces of the batch helpers: the "not processed" error and cancellation linking. */
import { UnprocessedError } from '../core/errors.js';

type KeysByTable = ReadonlyArray<{ readonly table: string; readonly keys: readonly string[] }>;

const keyCount = (keys: KeysByTable): number => keys.reduce((sum, u) => sum + u.keys.length, 0);

/** The first ten keys of each table, and how many more. */
function sampleKeys(keys: KeysByTable): string {
  return keys
    .map(({ table, keys }) => {
      const more = keys.length > 10 ? ` and ${keys.length - 10} more` : '';
      return `table "${table}": ${keys.slice(0, 10).join(', ')}${more}`;
    })
    .join('; ');
}

function mergeByTable(a: KeysByTable, b: KeysByTable): KeysByTable {
  const merged = new Map<string, string[]>();
  for (const { table, keys } of [...a, ...b]) merged.set(table, [...(merged.get(table) ?? []), ...keys]);
  return [...merged].map(([table, keys]) => ({ table, keys }));
}

/**
 * UnprocessedError listing every key (canonical JSON) per table; the message shows the first ten
 * keys of each table and the counts. `notAttempted` are writes a streaming writer had already taken
 * when it stopped after too many failures: never sent, so not blamed on DynamoDB, but listed (and
 * included in `unprocessed`) because they are not in the table either.
 */
export function unprocessedError(
  what: 'write(s) were not made' | 'key(s) were not read',
  attempts: number,
  unprocessed: KeysByTable,
  notAttempted: KeysByTable = [],
): UnprocessedError {
  let message =
    `${keyCount(unprocessed)} ${what} after ${attempts} attempts (DynamoDB kept returning them as ` +
    `unprocessed or throttled them): ${sampleKeys(unprocessed)}`;
  if (notAttempted.length > 0) {
    message +=
      `. The rest of the input was not read after that, and ${keyCount(notAttempted)} write(s) ` +
      `already taken from it were not sent: ${sampleKeys(notAttempted)}`;
  }
  return new UnprocessedError(message, mergeByTable(unprocessed, notAttempted));
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
