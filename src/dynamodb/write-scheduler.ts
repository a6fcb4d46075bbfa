/**
 * The engine behind batchWriteAll and writeAll: packs writes into BatchWriteItem requests (at most
 * 25 writes and 16 MB, never two writes for the same key in one request), sends a bounded number
 * concurrently, retries UnprocessedItems and throttling with capped jittered backoff, charges a
 * capacity budget, and keeps per-key order: a write waits for the request holding an earlier write
 * of the same key (retries included) to finish, and is not sent at all if that earlier write failed.
 */
import {
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  type DynamoDBClient,
  type WriteRequest as SdkWriteRequest,
} from '@aws-sdk/client-dynamodb';
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { backoffDelay, sleep, type RetryPolicy } from '../core/backoff.js';
import { BATCH_RETRY } from '../core/retry-policies.js';
import type { UnprocessedError } from '../core/errors.js';
import { itemSize } from '../core/item-size.js';
import { assertItemLimits, assertKeyLimits } from '../core/item-limits.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { batchWriteCommand } from './batch-write-body.js';
import { consumedCapacityParam, type CapacityBudget } from './capacity.js';
import { clientLocation } from './client.js';
import { isThrottlingError, translateSdkError } from './sdk-errors.js';
import { linkedAbortController, unprocessedError } from './unprocessed.js';
import { DEFAULT_WRITE_CONCURRENCY } from './defaults.js';

/** One write: put a whole item, or delete by key. */
export type WriteRequest = { put: Item } | { delete: Key };

export const MAX_BATCH_WRITES = 25;
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
export { DEFAULT_WRITE_CONCURRENCY };

export interface BatchWriteResult {
  /** Writes DynamoDB acknowledged. */
  readonly written: number;
  /** Sum of ConsumedCapacity.CapacityUnits over every response; 0 unless asked for (a budget, reportCapacity). */
  readonly consumedCapacity: number;
  /** Requests re-sent because of UnprocessedItems or throttling. */
  readonly retries: number;
}

/** A validated write, ready to pack: its key is known and its size checked. */
export interface PendingWrite {
  readonly table: string;
  readonly request: WriteRequest;
  /** `table` + canonical key: identifies the item across tables. */
  readonly id: string;
  readonly keyJson: string;
  readonly size: number;
  readonly schema: KeySchema;
}

/**
 * Validates one write against its table's key schema: key attributes present and typed
 * (InvalidDataError), item within DynamoDB's limits (ItemLimitError naming the key: nesting, names,
 * key value lengths; ItemTooLargeError over 400 KB). A delete's key is
 * reduced to the key attributes.
 */
export function prepareWrite(
  table: string,
  request: WriteRequest,
  schema: KeySchema,
  /** The caller checked the item limits already (the apply engine's plan): only key and size are taken. */
  limitsChecked = false,
): PendingWrite {
  let key: Key;
  let normalized: WriteRequest;
  let size: number;
  if ('put' in request) {
    key = keyOf(request.put, schema);
    size = limitsChecked ? itemSize(request.put) : assertItemLimits(request.put, schema);
    normalized = request;
  } else {
    key = keyOf(request.delete, schema);
    if (!limitsChecked) assertKeyLimits(key, schema);
    size = itemSize(key);
    normalized = { delete: key };
  }
  const keyJson = canonicalKey(key);
  return { table, request: normalized, id: `${table}\u0000${keyJson}`, keyJson, size, schema };
}

function toSdkRequest(request: WriteRequest): SdkWriteRequest {
  // core's AttributeValue is structurally the SDK's; the cast only bridges the nominal union types.
  return 'put' in request
    ? ({ PutRequest: { Item: request.put } } as SdkWriteRequest)
    : ({ DeleteRequest: { Key: request.delete } } as SdkWriteRequest);
}

/** The BatchWriteItem input for a set of writes (at most one per key), tables grouped. */
export function buildBatchWriteInput(
  writes: readonly PendingWrite[],
  reportCapacity = true,
): BatchWriteItemCommandInput {
  const requestItems: Record<string, SdkWriteRequest[]> = {};
  for (const w of writes) (requestItems[w.table] ??= []).push(toSdkRequest(w.request));
  return { RequestItems: requestItems, ...consumedCapacityParam(reportCapacity) };
}

function consumedUnits(output: { ConsumedCapacity?: { CapacityUnits?: number }[] }): number {
  return (output.ConsumedCapacity ?? []).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
}

/** The writes of `sent` that DynamoDB reported back as UnprocessedItems. */
function unprocessedOf(sent: readonly PendingWrite[], output: BatchWriteItemCommandOutput): PendingWrite[] {
  const left = output.UnprocessedItems;
  if (!left || Object.keys(left).length === 0) return [];
  const byId = new Map(sent.map((w) => [w.id, w]));
  const result: PendingWrite[] = [];
  for (const [table, requests] of Object.entries(left)) {
    for (const r of requests) {
      const schema = sent.find((w) => w.table === table)?.schema;
      const raw = (r.PutRequest?.Item ?? r.DeleteRequest?.Key) as Item | undefined;
      if (!schema || !raw) continue;
      const key = keyOf(raw, schema);
      const original = byId.get(`${table}\u0000${canonicalKey(key)}`);
      // A write we did not send cannot come back; if it ever did, retry DynamoDB's copy of it.
      result.push(
        original ?? prepareWrite(table, r.PutRequest?.Item ? { put: raw } : { delete: raw }, schema),
      );
    }
  }
  return result;
}

export interface SchedulerOptions {
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  readonly budget?: CapacityBudget;
  /** Ask for ConsumedCapacity even without a budget (default false); see consumedCapacityParam. */
  readonly reportCapacity?: boolean;
  readonly signal?: AbortSignal;
  /** Called with the total number of writes acknowledged so far, after each response. */
  readonly onProgress?: (written: number) => void;
  /**
   * Accept no more writes once this many could not be made (default: never stop, so the final
   * error lists every write that failed). A streaming writer sets a bound so that a table that
   * refuses everything fails in seconds instead of after every item has spent its retries.
   */
  readonly maxUnwritten?: number;
}

interface BatchOutcome {
  /** Ids of writes in this batch that were not made. */
  readonly failed: ReadonlySet<string>;
}

/** Packs and sends writes; see the module comment. Use add() for each write, then finish(). */
export class WriteScheduler {
  private buffer: PendingWrite[] = [];
  private bufferIds = new Set<string>();
  private bufferBytes = 0;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly running = new Set<Promise<BatchOutcome>>();
  /** Latest batch holding a write of each id; removed when that batch finishes. */
  private readonly lastBatchOf = new Map<string, Promise<BatchOutcome>>();
  /** Keys of writes that were sent and not made (or whose earlier write of the same key was not). */
  private readonly unwritten = new Map<string, Set<string>>();
  private unwrittenCount = 0;
  /** Keys of writes taken but never sent because the scheduler had stopped. */
  private readonly notSent = new Map<string, Set<string>>();
  private notSentCount = 0;
  private fatal: unknown;
  private readonly abort: AbortController;
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;
  private location: Promise<string> | undefined;
  private written = 0;
  private consumed = 0;
  private retries = 0;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: SchedulerOptions = {},
  ) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_WRITE_CONCURRENCY));
    this.retry = options.retry ?? BATCH_RETRY;
    // Never disposed: the listener lives as long as the caller's signal, which is the job's.
    this.abort = linkedAbortController(options.signal).controller;
  }

  /** False once the scheduler takes no more writes (a failure happened); call finish() then. */
  get accepting(): boolean {
    return (
      this.fatal === undefined &&
      !this.abort.signal.aborted &&
      this.unwrittenCount < (this.options.maxUnwritten ?? Infinity)
    );
  }

  /**
   * Buffers one write at once when that needs no request sent first (the buffer has room and no
   * write of its key). False means: hand it to add() instead. Saves a promise per write.
   */
  offer(write: PendingWrite): boolean {
    if (!this.accepting || this.bufferIds.has(write.id)) return false;
    if (this.buffer.length >= MAX_BATCH_WRITES || this.bufferBytes + write.size > MAX_BATCH_BYTES)
      return false;
    this.buffer.push(write);
    this.bufferIds.add(write.id);
    this.bufferBytes += write.size;
    return true;
  }

  /**
   * Queues one write. Resolves once it is buffered; waits (backpressure) while the buffer is full
   * and `concurrency` requests are in flight. Returns false when the scheduler stopped accepting
   * (the write then counts as not made).
   */
  async add(write: PendingWrite): Promise<boolean> {
    const full = this.buffer.length >= MAX_BATCH_WRITES || this.bufferBytes + write.size > MAX_BATCH_BYTES;
    if (this.accepting && (full || this.bufferIds.has(write.id))) await this.dispatch();
    if (!this.accepting) {
      // The caller handed it over: it is reported as not written rather than forgotten.
      this.markNotSent(write);
      return false;
    }
    this.buffer.push(write);
    this.bufferIds.add(write.id);
    this.bufferBytes += write.size;
    return true;
  }

  /** Sends what is buffered, waits for every request, then returns totals or throws. */
  async finish(): Promise<BatchWriteResult> {
    if (this.accepting && this.buffer.length > 0) await this.dispatch();
    else this.dropBuffer();
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    if (this.fatal !== undefined) throw this.fatal;
    this.options.signal?.throwIfAborted();
    if (this.unwrittenCount + this.notSentCount > 0) throw this.unprocessedError();
    return { written: this.written, consumedCapacity: this.consumed, retries: this.retries };
  }

  /** Writes in the buffer when the scheduler stopped count as not written. */
  private dropBuffer(): void {
    for (const w of this.buffer) this.markNotSent(w);
    this.buffer = [];
    this.bufferIds = new Set();
    this.bufferBytes = 0;
  }

  private async dispatch(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    this.bufferIds = new Set();
    this.bufferBytes = 0;
    if (batch.length === 0) return;
    await this.takeSlot();
    const deps = new Set<Promise<BatchOutcome>>();
    for (const w of batch) {
      const dep = this.lastBatchOf.get(w.id);
      if (dep) deps.add(dep);
    }
    const run = this.runBatch(batch, [...deps]).finally(() => this.releaseSlot());
    this.running.add(run);
    for (const w of batch) this.lastBatchOf.set(w.id, run);
    void run.then(() => {
      this.running.delete(run);
      for (const w of batch) if (this.lastBatchOf.get(w.id) === run) this.lastBatchOf.delete(w.id);
    });
  }

  private async takeSlot(): Promise<void> {
    while (this.inFlight >= this.concurrency) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlight++;
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }

  private markUnwritten(w: PendingWrite): void {
    this.unwrittenCount++;
    addKey(this.unwritten, w);
  }

  private markNotSent(w: PendingWrite): void {
    this.notSentCount++;
    addKey(this.notSent, w);
  }

  /** Never rejects: failures are recorded in `fatal` or `unwritten`. */
  private async runBatch(
    batch: readonly PendingWrite[],
    deps: readonly Promise<BatchOutcome>[],
  ): Promise<BatchOutcome> {
    const failed = new Set<string>();
    const earlierFailed = new Set<string>();
    for (const outcome of await Promise.all(deps)) for (const id of outcome.failed) earlierFailed.add(id);
    const toSend: PendingWrite[] = [];
    for (const w of batch) {
      // An earlier write of this key was not made: making a later one would break per-key order.
      if (earlierFailed.has(w.id)) {
        failed.add(w.id);
        this.markUnwritten(w);
      } else if (this.fatal !== undefined) {
        failed.add(w.id);
        this.markNotSent(w);
      } else toSend.push(w);
    }
    if (toSend.length === 0) return { failed };
    try {
      const left = await this.sendWithRetries(toSend);
      for (const w of left) {
        failed.add(w.id);
        this.markUnwritten(w);
      }
    } catch (error) {
      this.fatal ??= error;
      this.abort.abort(error);
      for (const w of toSend) failed.add(w.id);
    }
    return { failed };
  }

  /** Sends one batch until everything is written or the retry policy is spent; returns what is left. */
  private async sendWithRetries(writes: readonly PendingWrite[]): Promise<PendingWrite[]> {
    const signal = this.abort.signal;
    const budget = this.options.budget;
    let pending = [...writes];
    for (let attempt = 1; pending.length > 0; attempt++) {
      signal.throwIfAborted();
      if (attempt > 1) {
        if (attempt > this.retry.maxAttempts) return pending;
        this.retries++;
        await sleep(backoffDelay(attempt - 1, this.retry), signal);
      }
      await budget?.acquire(pending.length, signal);
      let output: BatchWriteItemCommandOutput;
      try {
        output = await this.client.send(
          batchWriteCommand(
            buildBatchWriteInput(pending, budget !== undefined || this.options.reportCapacity === true),
          ),
          {
            abortSignal: signal,
          },
        );
      } catch (error) {
        // The SDK already retried throttling; back off further rather than drop the writes.
        if (isThrottlingError(error)) {
          budget?.record(0); // a throttled request consumed nothing: release its reservation
          continue;
        }
        throw translateSdkError(error, {
          action: 'BatchWriteItem',
          table: [...new Set(pending.map((w) => w.table))].join('", "'),
          location: await (this.location ??= clientLocation(this.client)),
        });
      }
      const units = consumedUnits(output);
      budget?.record(units);
      this.consumed += units;
      const left = unprocessedOf(pending, output);
      const done = pending.length - left.length;
      if (done > 0) {
        this.written += done;
        this.options.onProgress?.(this.written);
      }
      pending = left;
    }
    return [];
  }

  private unprocessedError(): UnprocessedError {
    const listed = (byTable: Map<string, Set<string>>) =>
      [...byTable].map(([table, keys]) => ({ table, keys: [...keys] }));
    return unprocessedError(
      'write(s) were not made',
      this.retry.maxAttempts,
      listed(this.unwritten),
      listed(this.notSent),
    );
  }
}

function addKey(byTable: Map<string, Set<string>>, w: PendingWrite): void {
  const keys = byTable.get(w.table) ?? new Set<string>();
  byTable.set(w.table, keys);
  keys.add(w.keyJson);
}
