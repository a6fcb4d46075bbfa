import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item, KeySchema } from '../core/types.js';
import type { CapacityBudget } from './capacity.js';
import { parallelScanPages } from './scan.js';
import { DEFAULT_WRITE_CONCURRENCY } from './write-scheduler.js';
import { writeAll, type WriteRequest } from './writer.js';

export interface CopyTableOptions {
  /** Scan segments read concurrently, and BatchWriteItem requests in flight. */
  readonly parallel?: number;
  readonly keySchema: KeySchema;
  /** Limits the target's consumed write units and/or items per second. */
  readonly writeBudget?: CapacityBudget;
  /** Limits the source's consumed read units per second. */
  readonly readBudget?: CapacityBudget;
  readonly consistentRead?: boolean;
  readonly onProgress?: (written: number) => void;
  readonly signal?: AbortSignal;
}

export interface CopyTableResult {
  readonly items: number;
  /** Write capacity units the target reported consumed (ConsumedCapacity). */
  readonly consumedWriteUnits: number;
  readonly retries: number;
  readonly seconds: number;
}

/**
 * Copies every item of one table into another: a parallel scan feeding the never-drop writer, with
 * backpressure between them so memory stays bounded whatever the table size.
 */
export async function copyTable(
  source: { client: DynamoDBClient; table: string },
  target: { client: DynamoDBClient; table: string },
  options: CopyTableOptions,
): Promise<CopyTableResult> {
  const parallel = options.parallel ?? DEFAULT_WRITE_CONCURRENCY;
  const started = performance.now();
  const pages = parallelScanPages(source.client, {
    table: source.table,
    segments: parallel,
    consistentRead: options.consistentRead,
    budget: options.readBudget,
    signal: options.signal,
  });
  const result = await writeAll(target.client, target.table, puts(pages), {
    concurrency: parallel,
    keySchema: options.keySchema,
    budget: options.writeBudget,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  return {
    items: result.written,
    consumedWriteUnits: result.consumedCapacity,
    retries: result.retries,
    seconds: (performance.now() - started) / 1000,
  };
}

async function* puts(pages: AsyncIterable<Item[]>): AsyncIterable<WriteRequest> {
  for await (const page of pages) for (const item of page) yield { put: item };
}
