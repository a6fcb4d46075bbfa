import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item, KeySchema } from '../core/types.js';
import type { CapacityBudget } from './capacity.js';
import { parallelScanPages } from './scan.js';
import { describeTable } from './tables.js';
import { prepareTargetTable } from './target-table.js';
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
 *
 * @example
 * const { keySchema } = await describeTable(source.client, source.table);
 * const result = await copyTable(source, target, { keySchema, parallel: 8 });
 * console.log(`${result.items} items in ${result.seconds} s`);
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

export interface CopyIntoTableOptions extends Omit<CopyTableOptions, 'keySchema'> {
  readonly source: { readonly client: DynamoDBClient; readonly table: string; readonly label?: string };
  readonly target: { readonly client: DynamoDBClient; readonly table: string; readonly label?: string };
  /** Create the target from the source's description when it does not exist (default false). */
  readonly create?: boolean;
  /** How a missing target's error says to allow creation (default `create: true`). */
  readonly createFlag?: string;
  /** Called once the target is ready, before the first item is read (the source's item count estimate). */
  readonly onStart?: (start: { readonly created: boolean; readonly itemCountEstimate?: number }) => void;
}

export interface CopyIntoTableResult extends CopyTableResult {
  /** The target was created from the source's description. */
  readonly created: boolean;
}

/**
 * The whole copy: describes the source, makes sure the target exists with the same key schema
 * (creating it when `create` is set), then copies every item. A missing target or a different key
 * schema throws before anything is written.
 *
 * @example
 * const source = parseTableLocation('us-east-1/users');
 * const target = parseTableLocation('eu-west-1/users');
 * const result = await copyIntoTable({
 *   source: { client: createDynamoClient(source), table: source.table },
 *   target: { client: createDynamoClient(target), table: target.table },
 *   create: true,
 * });
 * console.log(`copied ${result.items} items`);
 */
export async function copyIntoTable(options: CopyIntoTableOptions): Promise<CopyIntoTableResult> {
  const { source, target, create, createFlag, onStart, ...copy } = options;
  const { description } = await describeTable(source.client, source.table);
  const { created, keySchema } = await prepareTargetTable(target.client, target.table, description, {
    create: create === true,
    labels: [source.label ?? source.table, target.label ?? target.table],
    createFlag: createFlag ?? 'create: true',
  });
  onStart?.({
    created,
    ...(description.ItemCount !== undefined ? { itemCountEstimate: description.ItemCount } : {}),
  });
  const result = await copyTable(source, target, { ...copy, keySchema });
  return { ...result, created };
}
