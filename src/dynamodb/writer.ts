/**
 * writeAll: stream writes from an (async) iterable into one table with backpressure: the source is
 * read only as fast as DynamoDB (and the capacity budget) accepts writes, so memory stays bounded
 * by `concurrency` requests of 25 writes whatever the source's size.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RetryPolicy } from '../core/backoff.js';
import type { KeySchema } from '../core/types.js';
import type { CapacityBudget } from './capacity.js';
import { describeTable } from './tables.js';
import { prepareWrite, WriteScheduler, type BatchWriteResult, type WriteRequest } from './write-scheduler.js';

export type { BatchWriteResult, WriteRequest } from './write-scheduler.js';

export interface WriteAllOptions {
  /** BatchWriteItem requests in flight at once; default DEFAULT_WRITE_CONCURRENCY. */
  readonly concurrency?: number;
  readonly budget?: CapacityBudget;
  /** Ask for ConsumedCapacity even without a budget (default false); see consumedCapacityParam. */
  readonly reportCapacity?: boolean;
  readonly retry?: RetryPolicy;
  /** The table's key schema; described once when absent. */
  readonly keySchema?: KeySchema;
  /** Called with the number of writes acknowledged so far. */
  readonly onProgress?: (done: number) => void;
  readonly signal?: AbortSignal;
  /** Stop reading the source once this many writes could not be made; default DEFAULT_MAX_UNWRITTEN. */
  readonly maxUnwritten?: number;
}

/**
 * A few hot keys that never get through should not stop a million-item copy (everything else is
 * written, the error names them, a rerun finishes), but a table refusing every write should fail
 * within a few rounds of retries rather than after each remaining item has spent its own.
 */
export const DEFAULT_MAX_UNWRITTEN = 1000;

/**
 * Writes every request to `table`, in order per key. Invalid writes (missing key attributes, items
 * over 400 KB) throw as they are reached. Writes still unprocessed after the retry policy do not stop
 * the stream until `maxUnwritten` of them failed; then UnprocessedError names their keys, and those
 * of the writes taken but not sent after the stop (writes not yet read from the source are not
 * listed: `onProgress` tells how far the stream got).
 *
 * @example
 * const { written } = await writeAll(client, 'users', [
 *   { put: { id: { S: 'u1' }, name: { S: 'Ada' } } },
 *   { delete: { id: { S: 'u2' } } },
 * ]);
 */
export async function writeAll(
  client: DynamoDBClient,
  table: string,
  requests: AsyncIterable<WriteRequest> | Iterable<WriteRequest>,
  o: WriteAllOptions = {},
): Promise<BatchWriteResult> {
  return drive(client, table, o, async (add) => {
    for await (const request of requests) {
      const added = add(request);
      if (added !== true && !(await added)) return;
    }
  });
}

/** writeAll for a source of pages of writes (a scan's pages): no per-item iterator on the way. */
export async function writePages(
  client: DynamoDBClient,
  table: string,
  pages: AsyncIterable<readonly WriteRequest[]> | Iterable<readonly WriteRequest[]>,
  o: WriteAllOptions = {},
): Promise<BatchWriteResult> {
  return drive(client, table, o, async (add) => {
    for await (const page of pages) {
      for (const request of page) {
        const added = add(request);
        if (added !== true && !(await added)) return;
      }
    }
  });
}

async function drive(
  client: DynamoDBClient,
  table: string,
  o: WriteAllOptions,
  /** `add` is true when the write was buffered at once, else a promise of add()'s answer. */
  feed: (add: (request: WriteRequest) => true | Promise<boolean>) => Promise<void>,
): Promise<BatchWriteResult> {
  const schema = o.keySchema ?? (await describeTable(client, table)).keySchema;
  const scheduler = new WriteScheduler(client, { maxUnwritten: DEFAULT_MAX_UNWRITTEN, ...o });
  try {
    await feed((request) => {
      const write = prepareWrite(table, request, schema);
      return scheduler.offer(write) || scheduler.add(write);
    });
  } catch (error) {
    // Let the requests already sent finish (their outcome is not reported) before failing.
    await scheduler.finish().catch(() => undefined);
    throw error;
  }
  return scheduler.finish();
}
