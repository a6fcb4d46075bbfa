/**
 * batchWriteAll: write any number of puts and deletes to one or more tables, never dropping one.
 * Everything is validated (keys, 400 KB limit) before the first request, so bad input writes nothing.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RetryPolicy } from '../core/backoff.js';
import type { KeySchema } from '../core/types.js';
import type { CapacityBudget } from './capacity.js';
import { describeTable } from './tables.js';
import {
  prepareWrite,
  WriteScheduler,
  type BatchWriteResult,
  type PendingWrite,
  type WriteRequest,
} from './write-scheduler.js';

export type { BatchWriteResult, WriteRequest } from './write-scheduler.js';

export interface BatchWriteOptions {
  /** Retries of UnprocessedItems and throttled requests; default BATCH_RETRY (core/retry-policies.ts). */
  readonly retry?: RetryPolicy;
  readonly budget?: CapacityBudget;
  /** Ask for ConsumedCapacity (default true); see SchedulerOptions.reportCapacity. */
  readonly reportCapacity?: boolean;
  /** Key schema per table; tables missing here are described once. */
  readonly keySchemas?: Record<string, KeySchema>;
  readonly signal?: AbortSignal;
  /** BatchWriteItem requests in flight at once; default DEFAULT_WRITE_CONCURRENCY. */
  readonly concurrency?: number;
  readonly onProgress?: (written: number) => void;
  /**
   * Every write passed the item-limit checks before (assertItemLimits for puts, assertKeyLimits for
   * deletes): they are not run a second time. Keys are still checked against the schema.
   */
  readonly limitsChecked?: boolean;
}

/** Key schemas for `tables`, from `known` or DescribeTable. */
export async function resolveKeySchemas(
  client: DynamoDBClient,
  tables: readonly string[],
  known: Record<string, KeySchema> = {},
): Promise<Record<string, KeySchema>> {
  const schemas: Record<string, KeySchema> = {};
  for (const table of tables) schemas[table] = known[table] ?? (await describeTable(client, table)).keySchema;
  return schemas;
}

/**
 * Writes every request, in order per key. Splits into BatchWriteItem requests of at most 25 writes
 * and 16 MB with at most one write per key each (two writes to one key go into successive
 * requests), sends several concurrently, retries UnprocessedItems with capped jittered backoff and,
 * when writes are still unprocessed after the retry policy, throws UnprocessedError listing the
 * canonical key of every write not made, per table.
 *
 * @example
 * await batchWriteAll(client, {
 *   users: [{ put: { id: { S: 'u1' } } }],
 *   orders: [{ delete: { customer: { S: 'u1' }, order: { N: '7' } } }],
 * });
 */
export async function batchWriteAll(
  client: DynamoDBClient,
  writes: Record<string, readonly WriteRequest[]>,
  options: BatchWriteOptions = {},
): Promise<BatchWriteResult> {
  const tables = Object.keys(writes).filter((t) => (writes[t]?.length ?? 0) > 0);
  const schemas = await resolveKeySchemas(client, tables, options.keySchemas);
  const prepared: PendingWrite[] = [];
  for (const table of tables) {
    for (const request of writes[table] ?? []) {
      prepared.push(prepareWrite(table, request, schemas[table] as KeySchema, options.limitsChecked));
    }
  }
  const scheduler = new WriteScheduler(client, options);
  for (const write of prepared) if (!scheduler.offer(write) && !(await scheduler.add(write))) break;
  return scheduler.finish();
}
