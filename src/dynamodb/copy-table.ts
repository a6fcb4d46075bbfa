/**
 * The one scan-then-write copy path: `copy`, `diff --backfill` and `replicate --backfill` all read
 * pages from a source and hand them to copyItems, which writes each page to every target through the
 * never-drop writer. The scan runs ahead of the writes (a few pages queued per target), memory stays
 * bounded by those queues and the writers' requests in flight, and nothing is iterated item by item
 * on the way.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RetryPolicy } from '../core/backoff.js';
import { UnprocessedError } from '../core/errors.js';
import type { Item, KeySchema } from '../core/types.js';
import type { CapacityBudget } from './capacity.js';
import { PageChannel } from './page-channel.js';
import { parallelScanPages } from './scan.js';
import { describeTable } from './tables.js';
import { prepareTargetTable } from './target-table.js';
import { linkedAbortController } from './unprocessed.js';
import { DEFAULT_WRITE_CONCURRENCY } from './write-scheduler.js';
import { writePages, type BatchWriteResult, type WriteRequest } from './writer.js';

/** Where a copy writes: a table behind the never-drop writer (tableSink), or a caller's own. */
export interface WriteSink {
  /** How errors name this target when a copy has several. */
  readonly label: string;
  /** Writes every request of every page; rejects as writePages does (UnprocessedError naming keys). */
  writePages(
    pages: AsyncIterable<readonly WriteRequest[]>,
    onProgress?: (written: number) => void,
    signal?: AbortSignal,
  ): Promise<BatchWriteResult>;
}

export interface TableSinkOptions {
  readonly label?: string;
  readonly keySchema: KeySchema;
  /** BatchWriteItem requests in flight; default DEFAULT_WRITE_CONCURRENCY. */
  readonly concurrency?: number;
  /** Charged for this table's writes (a budget shared by several sinks is charged by each). */
  readonly budget?: CapacityBudget;
  /** Batch layer policy; default BATCH_RETRY. */
  readonly retry?: RetryPolicy;
}

/** A table as a copy target, written through writePages (retries unprocessed items, never drops). */
export function tableSink(client: DynamoDBClient, table: string, o: TableSinkOptions): WriteSink {
  return {
    label: o.label ?? table,
    writePages(pages, onProgress, signal) {
      return writePages(client, table, pages, {
        keySchema: o.keySchema,
        ...(o.concurrency ? { concurrency: o.concurrency } : {}),
        ...(o.budget ? { budget: o.budget } : {}),
        ...(o.retry ? { retry: o.retry } : {}),
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
      });
    },
  };
}

export interface CopyProgress {
  /** Items read from the source. */
  readonly scanned: number;
  /** Writes acknowledged by every target (the slowest target's count). */
  readonly written: number;
}

export interface CopyItemsOptions {
  /**
   * Turns a page of source items into the writes to make (default: put every item). It may drop,
   * rewrite or merge items; what it throws fails the copy.
   */
  readonly map?: (page: readonly Item[]) => readonly WriteRequest[] | Promise<readonly WriteRequest[]>;
  /** Pages queued per target between the source and its writer; default COPY_QUEUE_PAGES. */
  readonly queuePages?: number;
  readonly onProgress?: (progress: CopyProgress) => void;
  readonly signal?: AbortSignal;
}

export interface CopyItemsResult {
  readonly scanned: number;
  /** Writes acknowledged by every target. */
  readonly written: number;
  /** ConsumedCapacity over every target (0 unless a budget asked for it). */
  readonly consumedWriteUnits: number;
  /** BatchWriteItem requests re-sent, over every target. */
  readonly retries: number;
  readonly seconds: number;
}

/** Enough queued pages per target that the source never waits on a writer that has work left. */
export const COPY_QUEUE_PAGES = 4;

/**
 * Items per Scan page of a copy (DynamoDB's Limit; it also ends a page at 1 MB). The first page of
 * each segment is small, so the writes start as soon as the scan does: with 1 MB pages a segment of
 * small items arrived as one page, and nothing was written until the scan was nearly done. Later
 * pages are larger, because every request costs the client and the server a fixed amount of work:
 * pages of 1,000 instead of 250 (56 Scan requests instead of 206 for 50,000 items) took the copy's
 * scan about 0.1 s less CPU in Node. Read capacity is charged per 4 KB, not per request.
 */
export const COPY_FIRST_PAGE_SIZE = 250;
export const COPY_PAGE_SIZE = 1000;

interface Lane {
  readonly sink: WriteSink;
  readonly channel: PageChannel<readonly WriteRequest[]>;
  written: number;
  open: boolean;
  result?: BatchWriteResult;
  error?: unknown;
  done?: Promise<void>;
}

/**
 * Reads every page of `pages` once and writes it to every target, each through its own writer with
 * its own queue, so a slow or failing target does not hold the others back more than its queue.
 * A target whose writer stopped on unprocessed keys (UnprocessedError) stops receiving pages; the
 * others receive everything, and the copy then fails with the keys of every target that stopped
 * (with several targets, each named by its label). Any other failure (of the source, the mapping or
 * a writer) stops the whole copy and is what it throws.
 */
export async function copyItems(
  pages: AsyncIterable<Item[]> | ((signal: AbortSignal) => AsyncIterable<Item[]>),
  targets: readonly WriteSink[],
  o: CopyItemsOptions = {},
): Promise<CopyItemsResult> {
  if (targets.length === 0) throw new TypeError('copyItems: no target given');
  const started = performance.now();
  const { controller: stop, dispose } = linkedAbortController(o.signal);
  let scanned = 0;
  let fatal: { error: unknown } | undefined;
  const progress = (): void => {
    o.onProgress?.({ scanned, written: Math.min(...lanes.map((l) => l.written)) });
  };
  const lanes: Lane[] = targets.map((sink) => ({
    sink,
    channel: new PageChannel<readonly WriteRequest[]>(o.queuePages ?? COPY_QUEUE_PAGES),
    written: 0,
    open: true,
  }));
  for (const lane of lanes) {
    const onProgress = (n: number): void => {
      lane.written = n;
      progress();
    };
    lane.done = lane.sink.writePages(lane.channel, onProgress, stop.signal).then(
      (result) => {
        lane.result = result;
      },
      (error: unknown) => {
        lane.error = error;
        if (!(error instanceof UnprocessedError)) {
          fatal ??= { error };
          stop.abort(error);
        }
      },
    );
    // However the writer ended, the source must not wait for room in its queue any more.
    void lane.done.finally(() => {
      lane.open = false;
      lane.channel.close();
    });
  }
  try {
    const source = typeof pages === 'function' ? pages(stop.signal) : pages;
    for await (const page of source) {
      if (stop.signal.aborted || !lanes.some((l) => l.open)) break;
      scanned += page.length;
      const requests = o.map ? await o.map(page) : page.map((item) => ({ put: item }));
      if (requests.length > 0) await Promise.all(lanes.map((l) => l.open && l.channel.push(requests)));
      progress();
    }
  } catch (error) {
    fatal ??= { error };
    stop.abort(error);
    for (const lane of lanes) lane.channel.fail(error);
  } finally {
    for (const lane of lanes) lane.channel.close();
    await Promise.all(lanes.map((l) => l.done));
    dispose();
  }
  if (fatal) throw fatal.error;
  o.signal?.throwIfAborted();
  const stopped = lanes.filter((l) => l.error !== undefined);
  if (stopped.length > 0) throw unprocessedOf(stopped, lanes.length > 1);
  const results = lanes.map((l) => l.result as BatchWriteResult);
  return {
    scanned,
    written: Math.min(...results.map((r) => r.written)),
    consumedWriteUnits: results.reduce((sum, r) => sum + r.consumedCapacity, 0),
    retries: results.reduce((sum, r) => sum + r.retries, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

/** The targets' UnprocessedErrors as one, each prefixed with its target's label when there are several. */
function unprocessedOf(stopped: readonly Lane[], name: boolean): UnprocessedError {
  const errors = stopped.map((l) => ({ label: l.sink.label, error: l.error as UnprocessedError }));
  if (!name && errors.length === 1) return (errors[0] as { error: UnprocessedError }).error;
  return new UnprocessedError(
    errors.map((e) => `${e.label}: ${e.error.message}`).join('; '),
    errors.flatMap((e) => e.error.unprocessed),
  );
}

export interface CopyTarget {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly label?: string;
}

export interface CopyTableOptions {
  /** Scan segments read concurrently, and BatchWriteItem requests in flight per target. */
  readonly parallel?: number;
  /** The key schema of the targets. */
  readonly keySchema: KeySchema;
  /** Limits each target's consumed write units and/or items per second (charged once per target). */
  readonly writeBudget?: CapacityBudget;
  /** Limits the source's consumed read units per second. */
  readonly readBudget?: CapacityBudget;
  readonly consistentRead?: boolean;
  /** Batch layer policy of the writers; default BATCH_RETRY. */
  readonly retry?: RetryPolicy;
  /** See CopyItemsOptions.map. */
  readonly map?: CopyItemsOptions['map'];
  /** Called with the writes every target acknowledged so far. */
  readonly onProgress?: (written: number) => void;
  readonly signal?: AbortSignal;
}

export interface CopyTableResult {
  readonly scanned: number;
  /** Writes made (on every target). */
  readonly items: number;
  /** Write capacity units the targets reported consumed (ConsumedCapacity). */
  readonly consumedWriteUnits: number;
  readonly retries: number;
  readonly seconds: number;
}

/**
 * Copies every item of one table into one or more others: a parallel scan in pages of
 * COPY_PAGE_SIZE (the first COPY_FIRST_PAGE_SIZE) feeding copyItems, read ahead while earlier pages are written (COPY_QUEUE_PAGES).
 *
 * @example
 * const { keySchema } = await describeTable(source.client, source.table);
 * const result = await copyTable(source, target, { keySchema, parallel: 8 });
 * console.log(`${result.items} items in ${result.seconds} s`);
 */
export async function copyTable(
  source: { client: DynamoDBClient; table: string },
  target: CopyTarget | readonly CopyTarget[],
  options: CopyTableOptions,
): Promise<CopyTableResult> {
  const parallel = options.parallel ?? DEFAULT_WRITE_CONCURRENCY;
  const targets = 'client' in target ? [target] : target;
  const sinks = targets.map((t) =>
    tableSink(t.client, t.table, {
      keySchema: options.keySchema,
      concurrency: parallel,
      ...(t.label ? { label: t.label } : {}),
      ...(options.writeBudget ? { budget: options.writeBudget } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
    }),
  );
  const onProgress = options.onProgress;
  const result = await copyItems(
    (signal) =>
      parallelScanPages(source.client, {
        table: source.table,
        segments: parallel,
        pageSize: COPY_PAGE_SIZE,
        firstPageSize: COPY_FIRST_PAGE_SIZE,
        consistentRead: options.consistentRead,
        budget: options.readBudget,
        signal,
      }),
    sinks,
    {
      ...(options.map ? { map: options.map } : {}),
      ...(onProgress ? { onProgress: (p: CopyProgress) => onProgress(p.written) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  return {
    scanned: result.scanned,
    items: result.written,
    consumedWriteUnits: result.consumedWriteUnits,
    retries: result.retries,
    seconds: result.seconds,
  };
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
