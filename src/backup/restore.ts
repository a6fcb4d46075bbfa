/**
 * The restore engine: makes a table hold exactly a desired state (a stream of items, each key
 * once), writing and deleting only what differs.
 *
 * - Into an empty table (just created, or found empty) every item is a put; nothing is read back,
 *   so the restore runs at the table's write rate.
 * - Into a table with data, desired items are looked up by key in batches of 100 (BatchGetItem,
 *   consistent reads, a few batches in flight) and put only when different (sets unordered,
 *   numbers by value). Then the target is scanned for keys the desired state does not have, and
 *   those are deleted. That needs the set of desired keys: 128-bit key hashes, about 100 bytes per
 *   item in memory (the only part that grows with the table; nothing else is held).
 * - Dry run: the same plan, counted, nothing written.
 * Writes go through writeAll (bounded in-flight batches, retries, capacity budget).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyId, keyOf, canonicalKey } from '../core/canonical-key.js';
import { itemsEqual } from '../core/equality.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import type { RetryPolicy } from '../core/backoff.js';
import { batchGetAll, MAX_BATCH_KEYS } from '../dynamodb/batch-get.js';
import type { CapacityBudget } from '../dynamodb/capacity.js';
import { parallelScanPages, tableIsEmpty } from '../dynamodb/scan.js';
import { writeAll, type WriteRequest } from '../dynamodb/writer.js';

export interface RestorePlanCounts {
  /** Items in the desired state. */
  readonly items: number;
  /** Items written because the target lacks them or holds something different. */
  readonly puts: number;
  /** Target items whose key the desired state does not have. */
  readonly deletes: number;
  /** Desired items the target already holds exactly. */
  readonly unchanged: number;
}

export interface RestoreResult extends RestorePlanCounts {
  readonly dryRun: boolean;
  /** True when the target was empty, so nothing was compared. */
  readonly targetWasEmpty: boolean;
  /** Writes acknowledged by DynamoDB (puts + deletes unless dry run). */
  readonly written: number;
  readonly consumedWriteUnits: number;
  readonly retries: number;
  readonly seconds: number;
}

export interface RestoreOptions {
  readonly keySchema: KeySchema;
  /** The target is known to be empty (created just now): skip the emptiness probe too. */
  readonly targetEmpty?: boolean;
  readonly dryRun?: boolean;
  /** BatchWriteItem requests in flight (default: writeAll's). */
  readonly concurrency?: number;
  /** BatchGetItem lookups in flight while comparing (default 4). */
  readonly lookupConcurrency?: number;
  /** Scan segments of the target for the delete pass (default 4). */
  readonly scanSegments?: number;
  readonly writeBudget?: CapacityBudget;
  readonly readBudget?: CapacityBudget;
  readonly retry?: RetryPolicy;
  /** Called with the number of desired items planned so far and writes acknowledged. */
  readonly onProgress?: (progress: { planned: number; written: number }) => void;
  readonly signal?: AbortSignal;
}

/** 128 bits of the key's SHA-256: collisions are out of reach for any table size. */
function shortKeyId(key: Key): string {
  return keyId(key).slice(0, 32);
}

/** Batches of up to `size` from an async iterable. */
async function* chunks<T>(source: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const x of source) {
    batch.push(x);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Maps batches through `fn` with up to `concurrency` in flight, yielding results in input order. */
async function* mapOrdered<T, R>(
  source: AsyncIterable<T>,
  concurrency: number,
  fn: (x: T) => Promise<R>,
): AsyncGenerator<R> {
  const inflight: Promise<R>[] = [];
  try {
    for await (const x of source) {
      const p = fn(x);
      p.catch(() => {}); // awaited below in order
      inflight.push(p);
      if (inflight.length >= concurrency) yield await (inflight.shift() as Promise<R>);
    }
    while (inflight.length > 0) yield await (inflight.shift() as Promise<R>);
  } finally {
    await Promise.allSettled(inflight);
  }
}

/**
 * Restores `desired` into `table`. Dry run counts the same plan and writes nothing. The caller
 * verifies the source first (resolveRestoreSource does) so a corrupt backup never starts writing.
 *
 * @example
 * // restoreIntoTable does all of this in one call.
 * const source = await resolveRestoreSource(openObjectStore('s3://my-backups/users'));
 * const { keySchema } = await describeTable(client, 'users');
 * const result = await restoreTable(client, 'users', source.items(), { keySchema });
 * console.log(result.puts, result.deletes, result.unchanged);
 */
export async function restoreTable(
  client: DynamoDBClient,
  table: string,
  desired: AsyncIterable<Item> | Iterable<Item>,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const started = performance.now();
  const empty =
    options.targetEmpty === true ||
    (await tableIsEmpty(client, table, options.signal ? { signal: options.signal } : {}));
  const run = new RestoreRun(client, table, options);
  const plan = empty ? run.planFresh(desired) : run.planCompare(desired);
  const outcome = options.dryRun ? await run.countOnly(plan) : await run.write(plan);
  return {
    ...run.counts,
    dryRun: options.dryRun === true,
    targetWasEmpty: empty,
    ...outcome,
    seconds: (performance.now() - started) / 1000,
  };
}

/** A desired item next to what the target holds under its key now (undefined: nothing). */
interface Compared {
  readonly item: Item;
  readonly key: Key;
  readonly current: Item | undefined;
}

type WriteOutcome = Pick<RestoreResult, 'written' | 'consumedWriteUnits' | 'retries'>;

/**
 * One restore: the counts and the set of desired keys its phases share. A plan is a stream of
 * writes: planFresh (empty target: every item a put) or planCompare (puts of items that differ,
 * then deletes of target keys the desired state lacks); countOnly or write consumes it.
 */
class RestoreRun {
  readonly counts = { items: 0, puts: 0, deletes: 0, unchanged: 0 };
  /** Writes acknowledged so far. */
  private written = 0;
  /** Short ids of every desired key, for the delete pass. */
  private readonly seen = new Set<string>();
  private readonly schema: KeySchema;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly options: RestoreOptions,
  ) {
    this.schema = options.keySchema;
  }

  private report(): void {
    this.options.onProgress?.({ planned: this.counts.items, written: this.written });
  }

  /** Into an empty target: every desired item is a put, nothing is read back. */
  async *planFresh(desired: AsyncIterable<Item> | Iterable<Item>): AsyncGenerator<WriteRequest> {
    for await (const item of desired) {
      keyOf(item, this.schema); // a missing key attribute is an error before anything else is sent
      this.counts.items++;
      this.counts.puts++;
      yield { put: item };
    }
  }

  /** Into a target with data: puts of desired items that differ, then deletes of keys not desired. */
  async *planCompare(desired: AsyncIterable<Item> | Iterable<Item>): AsyncGenerator<WriteRequest> {
    yield* this.putsThatDiffer(desired);
    yield* this.deletesOfUndesiredKeys();
  }

  private async *putsThatDiffer(desired: AsyncIterable<Item> | Iterable<Item>): AsyncGenerator<WriteRequest> {
    const compared = mapOrdered(
      chunks(desired, MAX_BATCH_KEYS),
      this.options.lookupConcurrency ?? 4,
      (batch) => this.lookUp(batch),
    );
    for await (const batch of compared) {
      for (const { item, key, current } of batch) {
        this.counts.items++;
        this.seen.add(shortKeyId(key));
        if (itemsEqual(item, current)) {
          this.counts.unchanged++;
          continue;
        }
        this.counts.puts++;
        yield { put: item };
      }
      this.report();
    }
  }

  /** Reads the target's current items for a batch of desired items (consistent BatchGetItem). */
  private async lookUp(batch: readonly Item[]): Promise<Compared[]> {
    const { schema, table, options } = this;
    const keys = batch.map((item) => keyOf(item, schema));
    const found = await batchGetAll(
      this.client,
      { [table]: { keys, consistentRead: true } },
      {
        ...(options.readBudget ? { budget: options.readBudget } : {}),
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    const current = new Map<string, Item>();
    for (const item of found.items[table] ?? []) current.set(canonicalKey(keyOf(item, schema)), item);
    return batch.map((item, i) => ({
      item,
      key: keys[i] as Key,
      current: current.get(canonicalKey(keys[i] as Key)),
    }));
  }

  /** Scans the target's keys; each one the desired state does not have is deleted. */
  private async *deletesOfUndesiredKeys(): AsyncGenerator<WriteRequest> {
    const { schema, options } = this;
    const keyNames = [schema.hash.name, ...(schema.range ? [schema.range.name] : [])];
    const pages = parallelScanPages(this.client, {
      table: this.table,
      segments: options.scanSegments ?? 4,
      consistentRead: true,
      projection: keyNames,
      ...(options.readBudget ? { budget: options.readBudget } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for await (const page of pages) {
      for (const item of page) {
        const key = keyOf(item, schema);
        if (this.seen.has(shortKeyId(key))) continue;
        this.counts.deletes++;
        yield { delete: key };
      }
    }
  }

  /** Dry run: walks the plan, counting, writing nothing. */
  async countOnly(plan: AsyncIterable<WriteRequest>): Promise<WriteOutcome> {
    for await (const _ of plan) this.report();
    return { written: 0, consumedWriteUnits: 0, retries: 0 };
  }

  /** Writes the plan through writeAll (bounded in-flight batches, retries, capacity budget). */
  async write(plan: AsyncIterable<WriteRequest>): Promise<WriteOutcome> {
    const { options } = this;
    const result = await writeAll(this.client, this.table, plan, {
      keySchema: this.schema,
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.writeBudget ? { budget: options.writeBudget } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (done) => {
        this.written = done;
        this.report();
      },
    });
    this.written = result.written;
    return { written: result.written, consumedWriteUnits: result.consumedCapacity, retries: result.retries };
  }
}
