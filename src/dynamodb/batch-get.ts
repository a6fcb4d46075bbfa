/**
 * batchGetAll: read any number of keys from one or more tables, never dropping one. Keys are
 * deduplicated per table, split into BatchGetItem requests of at most 100 keys, sent concurrently,
 * and UnprocessedKeys are retried with capped jittered backoff; keys still unread after the retry
 * policy are reported in an UnprocessedError.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep, type RetryPolicy } from '../core/backoff.js';
import { BATCH_RETRY } from '../core/retry-policies.js';
import { canonicalKey } from '../core/canonical-key.js';
import type { Item, Key } from '../core/types.js';
import { consumedCapacityParam, type CapacityBudget } from './capacity.js';
import { projectionExpression } from './paging.js';
import { callDynamo, isThrottlingError } from './sdk-errors.js';
import { linkedAbortController, unprocessedError } from './unprocessed.js';

export const MAX_BATCH_KEYS = 100;
export const DEFAULT_READ_CONCURRENCY = 8;

export interface BatchGetRequest {
  readonly keys: readonly Key[];
  readonly consistentRead?: boolean;
  /** Top-level attributes to return; all when absent. */
  readonly projection?: readonly string[];
}

export interface BatchGetOptions {
  readonly retry?: RetryPolicy;
  readonly budget?: CapacityBudget;
  readonly signal?: AbortSignal;
  /** BatchGetItem requests in flight at once; default DEFAULT_READ_CONCURRENCY. */
  readonly concurrency?: number;
  /** Ask for ConsumedCapacity even without a budget (default false); see consumedCapacityParam. */
  readonly reportCapacity?: boolean;
}

export interface BatchGetResult {
  /** Items found, per table (in no particular order; missing keys are simply absent). */
  readonly items: Record<string, Item[]>;
  /** Sum of ConsumedCapacity.CapacityUnits over every response; 0 unless asked for (a budget, reportCapacity). */
  readonly consumedCapacity: number;
}

interface GetChunk {
  readonly table: string;
  readonly keys: readonly Key[];
  readonly request: BatchGetRequest;
}

/** Per table: the keys once each, in first-seen order, cut into chunks of MAX_BATCH_KEYS. */
export function planBatchGets(requests: Record<string, BatchGetRequest>): GetChunk[] {
  const chunks: GetChunk[] = [];
  for (const [table, request] of Object.entries(requests)) {
    const unique = new Map<string, Key>();
    for (const key of request.keys) {
      const json = canonicalKey(key);
      if (!unique.has(json)) unique.set(json, key);
    }
    const keys = [...unique.values()];
    for (let i = 0; i < keys.length; i += MAX_BATCH_KEYS) {
      chunks.push({ table, keys: keys.slice(i, i + MAX_BATCH_KEYS), request });
    }
  }
  return chunks;
}

function keysAndAttributes(keys: readonly Key[], request: BatchGetRequest): KeysAndAttributes {
  return {
    Keys: keys as KeysAndAttributes['Keys'],
    ...(request.consistentRead !== undefined ? { ConsistentRead: request.consistentRead } : {}),
    ...projectionExpression(request.projection),
  };
}

/**
 * Reads keys of one or more tables with BatchGetItem (100 keys per request, several in flight),
 * retrying UnprocessedKeys until every key is answered. Keys the tables lack are simply absent.
 *
 * @example
 * const { items } = await batchGetAll(client, {
 *   users: { keys: [{ id: { S: 'u1' } }, { id: { S: 'u2' } }], consistentRead: true },
 * });
 * console.log(items.users?.length);
 */
export async function batchGetAll(
  client: DynamoDBClient,
  requests: Record<string, BatchGetRequest>,
  options: BatchGetOptions = {},
): Promise<BatchGetResult> {
  const retry = options.retry ?? BATCH_RETRY;
  const items: Record<string, Item[]> = {};
  for (const table of Object.keys(requests)) items[table] = [];
  const unread = new Map<string, string[]>();
  let consumed = 0;

  const readChunk = async (chunk: GetChunk, signal: AbortSignal): Promise<void> => {
    let pending = chunk.keys;
    for (let attempt = 1; pending.length > 0; attempt++) {
      signal.throwIfAborted();
      if (attempt > 1) {
        if (attempt > retry.maxAttempts) {
          const list = unread.get(chunk.table) ?? [];
          unread.set(chunk.table, list);
          list.push(...pending.map(canonicalKey));
          return;
        }
        await sleep(backoffDelay(attempt - 1, retry), signal);
      }
      await options.budget?.acquire(pending.length, signal);
      const input = {
        RequestItems: { [chunk.table]: keysAndAttributes(pending, chunk.request) },
        ...consumedCapacityParam(options.budget !== undefined || options.reportCapacity === true),
      };
      const output: BatchGetItemCommandOutput = await callDynamo(
        client,
        { action: 'BatchGetItem', table: chunk.table },
        async () => {
          try {
            return await client.send(new BatchGetItemCommand(input), { abortSignal: signal });
          } catch (error) {
            // The SDK already retried throttling; keep the keys and back off further.
            if (isThrottlingError(error)) return { $metadata: {}, UnprocessedKeys: input.RequestItems };
            throw error;
          }
        },
      );
      const units = (output.ConsumedCapacity ?? []).reduce((s, c) => s + (c.CapacityUnits ?? 0), 0);
      consumed += units;
      const found = (output.Responses?.[chunk.table] ?? []) as Item[];
      options.budget?.record(units);
      items[chunk.table]?.push(...found);
      pending = (output.UnprocessedKeys?.[chunk.table]?.Keys ?? []) as Key[];
    }
  };

  const chunks = planBatchGets(requests);
  const { controller: stop, dispose } = linkedAbortController(options.signal);
  let next = 0;
  const lanes = Math.max(
    1,
    Math.min(chunks.length, Math.floor(options.concurrency ?? DEFAULT_READ_CONCURRENCY)),
  );
  const results = await Promise.allSettled(
    Array.from({ length: lanes }, async () => {
      try {
        while (next < chunks.length) await readChunk(chunks[next++] as GetChunk, stop.signal);
      } catch (error) {
        stop.abort(error);
        throw error;
      }
    }),
  );
  dispose();
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
  if (unread.size > 0) {
    const unprocessed = [...unread].map(([table, keys]) => ({ table, keys }));
    throw unprocessedError('key(s) were not read', retry.maxAttempts, unprocessed);
  }
  return { items, consumedCapacity: consumed };
}
