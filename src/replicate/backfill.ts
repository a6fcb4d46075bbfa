/**
 * Backfill hand-off: copy a live table to its replicas, then follow its stream, without a window in
 * which a change can be lost.
 *
 * 1. Record the stream position first. For every shard open at that moment a LATEST iterator is
 *    taken and polled during the copy until the shard's first new record shows up; that record's
 *    sequence number becomes the shard's resume point (AT_SEQUENCE_NUMBER). A shard with no new
 *    record keeps its live iterator, which is handed to the runner. Shards closed at that moment are
 *    history the copy already contains (finished). Shards that appear later are read from
 *    TRIM_HORIZON by the runner.
 * 2. Copy every item with a strongly consistent parallel scan within a capacity budget. Any write
 *    that completed before the copy read an item is in the copy; any write after the position was
 *    taken is in the stream after it.
 * 3. Replay the stream from the recorded position. Items the copy already holds in a newer state are
 *    rewritten with older states on the way, but each key ends at its latest change, so the replica
 *    converges (at least once, per key in order).
 *
 * Retention: DynamoDB Streams keeps records for 24 hours. The replay must start before the first
 * record after the position is trimmed, so the copy must finish well within 24 hours. With a write
 * budget, the expected copy time (item count / items per second) is checked before starting:
 * over 24 hours the backfill is refused, over 12 hours it warns. During the copy, the projected total
 * is checked again from the measured rate. If the replay still finds its position trimmed, the
 * runner stops with a StreamGapError (TrimmedDataAccessException) rather than skip changes.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { backoffDelay, sleep, type RetryPolicy } from '../core/backoff.js';
import { APPLY_RETRY, BACKFILL_TRANSFORM_ATTEMPTS } from '../core/retry-policies.js';
import { STREAM_CLOCK_MARGIN_MS, type Change } from '../core/change.js';
import { keyId, keyOf } from '../core/canonical-key.js';
import { ServiceError, UsageError } from '../core/errors.js';
import type { Item } from '../core/types.js';
import type { CapacityBudget } from '../dynamodb/capacity.js';
import { copyTable } from '../dynamodb/copy-table.js';
import type { WriteRequest } from '../dynamodb/writer.js';
import { describeStream, getShardIterator, ShardReader, type PollingOptions } from '../streams/reader.js';
import type { ShardCheckpoint } from './checkpoint.js';
import { prepareWrites, replicaLabel, type ApplyOptions, type KeyFailure } from './engine.js';

export const STREAM_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Above this expected copy time the backfill warns: little room is left for the replay. */
export const RETENTION_WARNING_MS = 12 * 60 * 60 * 1000;

export interface CopyEstimate {
  readonly items: number;
  readonly itemsPerSecond: number;
  readonly seconds: number;
  readonly verdict: 'ok' | 'warn' | 'refuse';
}

/** Expected copy time from the table's (approximate) item count and the write rate per replica. */
export function estimateCopy(items: number, itemsPerSecond: number): CopyEstimate {
  const seconds = items / itemsPerSecond;
  const ms = seconds * 1000;
  const verdict = ms >= STREAM_RETENTION_MS ? 'refuse' : ms >= RETENTION_WARNING_MS ? 'warn' : 'ok';
  return { items, itemsPerSecond, seconds, verdict };
}

export function describeEstimate(e: CopyEstimate): string {
  const hours = (e.seconds / 3600).toFixed(1);
  return `copying ~${e.items} items at ${e.itemsPerSecond} items/s takes about ${hours} h`;
}

export interface StreamPosition {
  /** Per shard: finished (closed before the copy) or AT the first record after the copy began. */
  readonly shards: Readonly<Record<string, ShardCheckpoint>>;
  /** Open shards that had no new record: their live iterators, to continue from exactly there. */
  readonly iterators: ReadonlyMap<string, string>;
  readonly recordedAt: number;
}

interface WatchedShard {
  readonly reader: ShardReader;
  resolved?: ShardCheckpoint;
}

/** One record per call, no idle wait (the recorder paces its rounds), the reader's retries. */
const RECORDER_POLLING: PollingOptions = { limit: 1, idleDelayMs: { min: 0, max: 0 } };

/**
 * Takes the stream position and keeps it alive during the copy (see the module comment). Polling is
 * slow (every `pollMs`) and one record per call: it only needs the first sequence number per shard.
 * Reads go through ShardReader (its retries, error translation and gap detection); an iterator
 * that expires before its shard's first record is a StreamGapError, never a LATEST taken again.
 */
export class PositionRecorder {
  private readonly watched = new Map<string, WatchedShard>();
  private readonly closed: string[] = [];
  private readonly stop = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private failure: unknown;
  private recordedAt = 0;

  private constructor(private readonly pollMs: number) {}

  static async start(
    streams: DynamoDBStreamsClient,
    streamArn: string,
    options: { pollMs?: number; polling?: PollingOptions } = {},
  ): Promise<PositionRecorder> {
    const recorder = new PositionRecorder(options.pollMs ?? 500);
    const stream = await describeStream(streams, streamArn);
    recorder.recordedAt = Date.now();
    const polling = { ...RECORDER_POLLING, ...options.polling };
    for (const shard of stream.shards) {
      if (shard.endingSequenceNumber) {
        recorder.closed.push(shard.shardId);
        continue;
      }
      const start = { type: 'LATEST' } as const;
      const iterator = await getShardIterator(streams, streamArn, shard.shardId, start);
      const reader = new ShardReader(streams, streamArn, shard.shardId, start, polling, iterator, false);
      recorder.watched.set(shard.shardId, iterator ? { reader } : { reader, resolved: { finished: true } });
    }
    recorder.loop = recorder.poll();
    return recorder;
  }

  private async poll(): Promise<void> {
    while (!this.stop.signal.aborted) {
      for (const w of this.watched.values()) {
        if (w.resolved || this.stop.signal.aborted) continue;
        try {
          const page = await w.reader.next(this.stop.signal);
          const first = page.records[0]?.dynamodb?.SequenceNumber;
          if (first) w.resolved = { sequenceNumber: first, inclusive: true };
          else if (page.end) w.resolved = { finished: true };
        } catch (error) {
          if (this.stop.signal.aborted) return;
          this.failure = error;
          return;
        }
      }
      await sleep(this.pollMs, this.stop.signal).catch(() => {});
    }
  }

  /** True once polling stopped on an error: finish() throws it. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Stops polling and returns the position to replay from. */
  async finish(): Promise<StreamPosition> {
    this.stop.abort();
    await this.loop;
    if (this.failure) throw this.failure;
    const shards: Record<string, ShardCheckpoint> = {};
    const iterators = new Map<string, string>();
    for (const id of this.closed) shards[id] = { finished: true };
    for (const [id, w] of this.watched) {
      const iterator = w.reader.liveIterator;
      if (w.resolved) shards[id] = w.resolved;
      else if (iterator) {
        iterators.set(id, iterator);
        // No record to resume from: a restart reads the shard from its start, skipping what the copy holds.
        shards[id] = { skipBefore: this.recordedAt - STREAM_CLOCK_MARGIN_MS };
      }
    }
    return { shards, iterators, recordedAt: this.recordedAt };
  }

  /** Abandons the recorder (the copy failed). */
  async cancel(): Promise<void> {
    this.stop.abort();
    await this.loop.catch(() => {});
  }
}

export interface CopyOptions {
  readonly source: { readonly client: DynamoDBClient; readonly table: string };
  /**
   * Replicas, key schema and transform; the cut-over filter does not apply to a copy. `retry` is the
   * batch layer policy of the writers (default BATCH_RETRY).
   */
  readonly apply: Omit<ApplyOptions, 'signal' | 'turnover'>;
  /** Scan segments read at once; also the BatchWriteItem requests in flight per replica. */
  readonly parallel?: number;
  /** Items per second written (charged once per replica), and/or write units per second. */
  readonly writeBudget?: CapacityBudget;
  readonly readBudget?: CapacityBudget;
  /** Delays between runs of a transform that threw; default APPLY_RETRY's. Writes are not retried here. */
  readonly retry?: RetryPolicy;
  /** Runs of a transform that threw for an item before the copy fails; default BACKFILL_TRANSFORM_ATTEMPTS. */
  readonly maxAttempts?: number;
  readonly onProgress?: (copied: number) => void;
  readonly signal?: AbortSignal;
}

export interface CopyResult {
  readonly scanned: number;
  /** Records (scanned items) written to every replica. */
  readonly written: number;
  /** Items the transform dropped. */
  readonly skipped: number;
  /** Items not written because DynamoDB's item limits refuse them (the transform made them so). */
  readonly rejected: number;
  readonly seconds: number;
}

/** A scanned item as a change, so the copy shares the engine (transform, plan) with replay. */
function insertOf(item: Item, keys: Item): Change {
  return { eventName: 'INSERT', keys, newImage: item, sequenceNumber: '0' };
}

/**
 * Copies every item of the source to every replica: one consistent parallel scan, each page passed
 * through the apply engine's transform and plan (prepareWrites), then written to every replica by
 * copyTable's never-drop writers. A replica that keeps refusing keys fails the copy with
 * UnprocessedError naming them (and the replica) while the other replicas receive everything.
 * Memory: a few pages per replica.
 */
export async function copyToReplicas(o: CopyOptions): Promise<CopyResult> {
  const parallel = Math.max(1, o.parallel ?? 4);
  const retry = o.retry ?? APPLY_RETRY;
  const maxAttempts = o.maxAttempts ?? BACKFILL_TRANSFORM_ATTEMPTS;
  const { retry: batchRetry, ...engine } = o.apply;
  let written = 0;
  let skipped = 0;
  let rejected = 0;

  const mapPage = async (page: readonly Item[]): Promise<WriteRequest[]> => {
    let pending = page.map((item) => insertOf(item, keyOf(item, engine.keySchema)));
    const requests: WriteRequest[] = [];
    for (let attempt = 1; ; attempt++) {
      const prepared = await prepareWrites(pending, engine);
      for (const w of prepared.writes) {
        requests.push(w.request);
        written += w.records;
      }
      skipped += prepared.skipped;
      rejected += prepared.rejectedRecords;
      if (prepared.failed.length === 0) return requests;
      const first = prepared.failed[0] as KeyFailure;
      if (attempt >= maxAttempts || prepared.failed.some((f) => f.refused))
        throw new ServiceError(
          `Backfill: ${prepared.failed.length} item(s) could not be written after ${attempt} attempts ` +
            `(first: ${first.key}: ${first.error})`,
        );
      const failedKeys = new Set(prepared.failed.map((f) => f.keyId));
      pending = pending.filter((c) => failedKeys.has(keyId(c.keys)));
      await sleep(backoffDelay(attempt, retry), o.signal);
    }
  };

  const result = await copyTable(
    o.source,
    o.apply.replicas.map((r) => ({ client: r.client, table: r.table, label: replicaLabel(r) })),
    {
      parallel,
      keySchema: engine.keySchema,
      consistentRead: true,
      map: mapPage,
      ...(o.writeBudget ? { writeBudget: o.writeBudget } : {}),
      ...(o.readBudget ? { readBudget: o.readBudget } : {}),
      ...(batchRetry ? { retry: batchRetry } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    },
  );
  return { scanned: result.scanned, written, skipped, rejected, seconds: result.seconds };
}

export interface BackfillOptions extends CopyOptions {
  readonly streams: DynamoDBStreamsClient;
  readonly streamArn: string;
  /** DescribeTable's approximate item count, for the retention check. */
  readonly itemCount?: number;
  /** Told when the copy may come close to the stream's 24-hour retention. */
  readonly warn?: (message: string) => void;
  readonly recorderPollMs?: number;
  /**
   * Called once the stream position is recorded, before the copy: from here on every change is in
   * the stream after the position (a base snapshot for a change log must start its scan after it).
   */
  readonly onPositionRecorded?: () => void;
}

export interface BackfillResult {
  readonly copy: CopyResult;
  readonly position: StreamPosition;
}

/**
 * Records the stream position, copies the table, and returns the position to replay from (the
 * caller saves it as the checkpoint and starts the runner with its live iterators).
 */
export async function backfill(o: BackfillOptions): Promise<BackfillResult> {
  // A budget in write units allows at most that many items per second (1 unit per item up to 1 KB).
  const rate = o.writeBudget?.options.itemsPerSecond ?? o.writeBudget?.options.unitsPerSecond;
  if (rate && o.itemCount !== undefined) {
    const estimate = estimateCopy(o.itemCount * o.apply.replicas.length, rate);
    if (estimate.verdict === 'refuse')
      throw new UsageError(
        `Backfill refused: ${describeEstimate(estimate)}, longer than the stream's 24-hour retention, so changes ` +
          `made during the copy would be trimmed before the replay. Raise --write-budget or --parallel.`,
      );
    if (estimate.verdict === 'warn')
      o.warn?.(`${describeEstimate(estimate)}; the replay must start within 24 hours of the copy's start.`);
  }
  const recorder = await PositionRecorder.start(o.streams, o.streamArn, {
    ...(o.recorderPollMs !== undefined ? { pollMs: o.recorderPollMs } : {}),
  });
  o.onPositionRecorded?.();
  let warned = false;
  const started = Date.now();
  let copy: CopyResult;
  try {
    copy = await copyToReplicas({
      ...o,
      onProgress: (copied) => {
        o.onProgress?.(copied);
        const elapsed = Date.now() - started;
        const total = o.itemCount ? (elapsed * o.itemCount) / Math.max(1, copied) : elapsed;
        if (!warned && (total >= STREAM_RETENTION_MS * 0.8 || elapsed >= STREAM_RETENTION_MS * 0.75)) {
          warned = true;
          o.warn?.(
            `the copy is projected to take ${(total / 3_600_000).toFixed(1)} h; changes older than 24 h are trimmed ` +
              'from the stream, and if the replay finds its position trimmed it stops with an error.',
          );
        }
      },
    });
  } catch (error) {
    await recorder.cancel();
    throw error;
  }
  const position = await recorder.finish();
  return { copy, position };
}
