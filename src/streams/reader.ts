import {
  DescribeStreamCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  LimitExceededException,
  ResourceNotFoundException,
  TrimmedDataAccessException,
  type DynamoDBStreamsClient,
  type _Record as SdkStreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { NetworkTimeoutError, NotFoundError, ReplicatorError, ServiceError } from '../core/errors.js';
import { isNetworkTimeout, timeoutDetail } from '../core/network.js';
import { clientLocation } from '../dynamodb/client.js';
import { backoffDelay, sleep, type RetryPolicy } from '../core/backoff.js';
import { STREAM_READ_RETRY } from '../core/retry-policies.js';
import type { StreamViewType } from '../core/change.js';

export type { SdkStreamRecord };

/**
 * Records the stream no longer holds (DynamoDB Streams keeps 24 hours) were needed to continue:
 * the replica may have missed changes and must be resynchronised.
 */
export class StreamGapError extends ReplicatorError {}

export const GAP_ADVICE =
  'The replica may have missed changes. Resynchronise it: run `dynamodb-replicator replicate ... --backfill` ' +
  '(copies the table, then follows the stream from a fresh position), or start with `--on-gap resync`.';

export interface ShardInfo {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly startingSequenceNumber?: string;
  /** Set once the shard is closed: no record will be added after it. */
  readonly endingSequenceNumber?: string;
}

export interface StreamInfo {
  readonly streamArn: string;
  readonly status: string;
  readonly viewType?: StreamViewType;
  readonly tableName?: string;
  readonly shards: readonly ShardInfo[];
}

/** Where to start reading a shard. `ITERATOR` hands over a live iterator (e.g. from a backfill). */
export type ShardStart =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'AT_SEQUENCE_NUMBER'; readonly sequenceNumber: string };

/** DescribeStream with pagination: every shard the stream currently lists. */
export async function describeStream(
  client: DynamoDBStreamsClient,
  streamArn: string,
  signal?: AbortSignal,
): Promise<StreamInfo> {
  const shards: ShardInfo[] = [];
  let exclusiveStartShardId: string | undefined;
  let status = 'UNKNOWN';
  let viewType: StreamViewType | undefined;
  let tableName: string | undefined;
  do {
    let out;
    try {
      out = await client.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException)
        throw new NotFoundError(`Stream ${streamArn} does not exist`, { cause: error });
      throw error;
    }
    const d = out.StreamDescription;
    status = d?.StreamStatus ?? status;
    viewType = (d?.StreamViewType as StreamViewType | undefined) ?? viewType;
    tableName = d?.TableName ?? tableName;
    for (const s of d?.Shards ?? []) {
      if (!s.ShardId) continue;
      shards.push({
        shardId: s.ShardId,
        ...(s.ParentShardId ? { parentShardId: s.ParentShardId } : {}),
        ...(s.SequenceNumberRange?.StartingSequenceNumber
          ? { startingSequenceNumber: s.SequenceNumberRange.StartingSequenceNumber }
          : {}),
        ...(s.SequenceNumberRange?.EndingSequenceNumber
          ? { endingSequenceNumber: s.SequenceNumberRange.EndingSequenceNumber }
          : {}),
      });
    }
    exclusiveStartShardId = d?.LastEvaluatedShardId;
  } while (exclusiveStartShardId);
  return {
    streamArn,
    status,
    ...(viewType ? { viewType } : {}),
    ...(tableName ? { tableName } : {}),
    shards,
  };
}

/**
 * Orders shards so that every parent comes before its children (a parent no longer listed — trimmed
 * — does not hold its child back).
 */
export function parentFirstOrder(shards: readonly ShardInfo[]): ShardInfo[] {
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  const out: ShardInfo[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const visit = (s: ShardInfo): void => {
    // `visiting` breaks a malformed lineage loop instead of recursing forever.
    if (placed.has(s.shardId) || visiting.has(s.shardId)) return;
    visiting.add(s.shardId);
    const parent = s.parentShardId ? byId.get(s.parentShardId) : undefined;
    if (parent) visit(parent);
    placed.add(s.shardId);
    out.push(s);
  };
  for (const s of shards) visit(s);
  return out;
}

/** GetShardIterator, with trimmed positions and vanished shards turned into a StreamGapError. */
export async function getShardIterator(
  client: DynamoDBStreamsClient,
  streamArn: string,
  shardId: string,
  start: ShardStart,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    const out = await client.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: start.type,
        ...('sequenceNumber' in start ? { SequenceNumber: start.sequenceNumber } : {}),
      }),
      { abortSignal: signal },
    );
    return out.ShardIterator;
  } catch (error) {
    if (error instanceof TrimmedDataAccessException)
      throw new StreamGapError(
        `Shard ${shardId} of ${streamArn}: the position ${describeStart(start)} is older than the stream's ` +
          `24-hour retention (TrimmedDataAccessException). ${GAP_ADVICE}`,
        { cause: error },
      );
    if (error instanceof ResourceNotFoundException)
      throw new StreamGapError(
        `Shard ${shardId} of ${streamArn} no longer exists (trimmed or the stream was replaced). ${GAP_ADVICE}`,
        { cause: error },
      );
    throw error;
  }
}

export function describeStart(start: ShardStart): string {
  return 'sequenceNumber' in start ? `${start.type} ${start.sequenceNumber}` : start.type;
}

export interface PollingOptions {
  /** Records per GetRecords call (1..1000). */
  readonly limit?: number;
  /** Wait after an empty page, doubling from min to max while the shard stays idle. */
  readonly idleDelayMs?: { readonly min: number; readonly max: number };
  /** Backoff for throttling and transient errors. */
  readonly retry?: RetryPolicy;
}

export const DEFAULT_POLLING: Required<PollingOptions> = {
  limit: 1000,
  // A non-empty page is followed by an immediate re-poll; idle shards are polled after 10 ms, backing
  // off to 250 ms, which keeps end-to-end lag low without hammering an idle stream (the service allows
  // five GetRecords calls per second per shard and throttles beyond; throttles back off further).
  idleDelayMs: { min: 10, max: 250 },
  retry: STREAM_READ_RETRY,
};

export interface ShardPage {
  readonly shardId: string;
  readonly records: readonly SdkStreamRecord[];
  /** True when the shard is closed and every record has been read: nothing follows. */
  readonly end: boolean;
  /** True when the page came back empty from an open shard: the reader is caught up. */
  readonly caughtUp: boolean;
}

/**
 * Reads one shard page by page, in order. The caller processes a page before asking for the next,
 * so an expired iterator is renewed right after the last record handed out (AFTER_SEQUENCE_NUMBER),
 * or from the original start when none was. Memory: one page at a time.
 */
export class ShardReader {
  private iterator: string | undefined;
  private started = false;
  private lastSequenceNumber: string | undefined;
  private idleDelay = 0;
  private finished = false;
  private readonly polling: Required<PollingOptions>;

  constructor(
    private readonly client: DynamoDBStreamsClient,
    private readonly streamArn: string,
    readonly shardId: string,
    private readonly start: ShardStart,
    polling: PollingOptions = {},
    /** A live iterator to begin with (a backfill's watcher hands its own over); renewed from `start`. */
    initialIterator?: string,
    /**
     * False: an iterator that expires before any record was handed out is a StreamGapError instead
     * of being renewed from `start` (a LATEST taken again would skip what arrived in between).
     */
    private readonly renewFromStart = true,
  ) {
    this.polling = { ...DEFAULT_POLLING, ...polling };
    if (initialIterator) {
      this.iterator = initialIterator;
      this.started = true;
    }
  }

  get done(): boolean {
    return this.finished;
  }

  /** The iterator the next page is read with (undefined before the first read, or at the end). */
  get liveIterator(): string | undefined {
    return this.iterator;
  }

  /** The sequence number of the last record handed out, if any. */
  get position(): string | undefined {
    return this.lastSequenceNumber;
  }

  /**
   * Next page. Waits first when the previous page was empty (idle backoff). Resolves with an empty,
   * non-final page when `signal` aborts during the wait.
   */
  async next(signal?: AbortSignal): Promise<ShardPage> {
    if (this.finished) return { shardId: this.shardId, records: [], end: true, caughtUp: true };
    if (this.idleDelay > 0) {
      try {
        await sleep(this.idleDelay, signal);
      } catch {
        return { shardId: this.shardId, records: [], end: false, caughtUp: true };
      }
    }
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.started) {
          this.iterator = await getShardIterator(
            this.client,
            this.streamArn,
            this.shardId,
            this.start,
            signal,
          );
          this.started = true;
        }
        if (!this.iterator) return this.finish([]);
        const out = await this.client.send(
          new GetRecordsCommand({ ShardIterator: this.iterator, Limit: this.polling.limit }),
          { abortSignal: signal },
        );
        const records = out.Records ?? [];
        const last = records.at(-1)?.dynamodb?.SequenceNumber;
        if (last) this.lastSequenceNumber = last;
        this.iterator = out.NextShardIterator;
        if (!this.iterator) return this.finish(records);
        const { min, max } = this.polling.idleDelayMs;
        this.idleDelay = records.length > 0 ? 0 : Math.min(max, Math.max(min, this.idleDelay * 2));
        return { shardId: this.shardId, records, end: false, caughtUp: records.length === 0 };
      } catch (error) {
        if (error instanceof ExpiredIteratorException) {
          if (!this.lastSequenceNumber && !this.renewFromStart)
            throw new StreamGapError(
              `Shard ${this.shardId}: the iterator taken at ${describeStart(this.start)} expired before a record was ` +
                `read, and that position cannot be taken again without skipping changes. ${GAP_ADVICE}`,
              { cause: error },
            );
          // Iterators live 15 minutes; renew from what was already handed out.
          this.iterator = await getShardIterator(
            this.client,
            this.streamArn,
            this.shardId,
            this.resumePoint(),
            signal,
          );
          continue;
        }
        if (error instanceof TrimmedDataAccessException)
          throw new StreamGapError(
            `Shard ${this.shardId}: records after ${this.lastSequenceNumber ?? describeStart(this.start)} were ` +
              `trimmed from the stream before they could be read (TrimmedDataAccessException). ${GAP_ADVICE}`,
            { cause: error },
          );
        if (error instanceof ReplicatorError || signal?.aborted) throw error;
        if (attempt >= this.polling.retry.maxAttempts) {
          const at = `Reading shard ${this.shardId} at ${await clientLocation(this.client)}`;
          if (isNetworkTimeout(error))
            throw new NetworkTimeoutError(`${at}: the endpoint ${timeoutDetail(error)}, ${attempt} times`, {
              cause: error,
            });
          throw new ServiceError(`${at} failed after ${attempt} attempts: ${(error as Error).message}`, {
            cause: error,
          });
        }
        const throttled = error instanceof LimitExceededException;
        await sleep(backoffDelay(throttled ? attempt + 1 : attempt, this.polling.retry), signal);
      }
    }
  }

  private resumePoint(): ShardStart {
    return this.lastSequenceNumber
      ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.lastSequenceNumber }
      : this.start;
  }

  private finish(records: readonly SdkStreamRecord[]): ShardPage {
    this.finished = true;
    return { shardId: this.shardId, records, end: true, caughtUp: true };
  }
}
