import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import pLimit from 'p-limit';
import { backoffDelay, sleep, type RetryPolicy } from '../core/backoff.js';
import { canonicalKey } from '../core/canonical-key.js';
import { compareSequenceNumbers, type Change } from '../core/change.js';
import { changeFromSdkRecord } from '../core/change-sources.js';
import { APPLY_RETRY } from '../core/retry-policies.js';
import { InvalidDataError, ReplicatorError, ServiceError } from '../core/errors.js';
import {
  DEFAULT_POLLING,
  describeStream,
  GAP_ADVICE,
  parentFirstOrder,
  ShardReader,
  StreamGapError,
  type PollingOptions,
  type ShardInfo,
  type ShardPage,
  type ShardStart,
} from '../streams/reader.js';
import {
  CheckpointWriter,
  type CheckpointState,
  type CheckpointStore,
  type ShardCheckpoint,
} from './checkpoint.js';
import { applyChanges, type ApplyOptions, type ApplyResult } from './engine.js';
import { MAX_BATCH_WRITES } from '../dynamodb/write-scheduler.js';
import { PageWindow, type WindowPage } from './page-window.js';
import { CheckpointLeaseLostError, type CheckpointLease } from './lease.js';

export type StartFrom = 'trim-horizon' | 'latest';

/**
 * Pages of one shard applied at the same time when they share no key: a page no longer waits for the
 * previous page's replica writes, only for its own (and for a page writing one of its items).
 */
const PAGES_APPLYING_PER_SHARD = 4;

/**
 * Most records pages read while earlier ones are written are joined into (one GetRecords page at
 * most): bounds a shard's memory while its window is full.
 */
const MAX_JOINED_RECORDS = 1000;

/**
 * Least time between two checkpoint saves. Saved back to back, a file checkpoint (lock check, write,
 * fsync, rename) took more of the runner's CPU than planning and applying the records at 1,000
 * writes/s; a crash replays at most this much more of the stream.
 */
const CHECKPOINT_SAVE_INTERVAL_MS = 200;

/** How a shard's applies ended early: a stop requested while retrying, or a failure to rethrow. */
interface ApplyOutcome {
  stopped: boolean;
  failure?: { readonly error: unknown };
}

export interface RunnerOptions {
  readonly streams: DynamoDBStreamsClient;
  readonly streamArn: string;
  /** Everything the apply engine needs except the stop signal (the runner finishes a batch it began). */
  readonly apply: Omit<ApplyOptions, 'signal'>;
  readonly checkpoint: CheckpointStore;
  /**
   * The checkpoint's lease, held by the caller (who releases it): saves go through `lease.store`,
   * every write to a replica is preceded by `lease.check()`, and a lost lease stops the run with
   * CheckpointLeaseLostError. Without it, run() takes the checkpoint store's own lease (if it has
   * one; refused with CheckpointLeaseHeldError while another runner holds it) and releases it at the end.
   */
  readonly lease?: CheckpointLease;
  /** First start only (no checkpoint): read open shards from their oldest record or from now. */
  readonly from?: StartFrom;
  /** Shards whose page is being fetched or applied at the same time (per-shard order is kept). */
  readonly parallel?: number;
  readonly polling?: PollingOptions;
  /** How often DescribeStream looks for new (child) shards. */
  readonly discoveryIntervalMs?: number;
  /** Stop once every shard is caught up and no record arrived for this long. */
  readonly stopWhenIdleMs?: number;
  /** Delays between attempts to apply the part of a batch that failed. */
  readonly retry?: RetryPolicy;
  /** Give up (ServiceError) after this many attempts at one batch; unlimited by default, like Lambda. */
  readonly maxBatchAttempts?: number;
  /** Stop request: the batch in flight is finished and checkpointed, then run() resolves. */
  readonly signal?: AbortSignal;
  /** Start positions handed over by a backfill: a live iterator per shard. */
  readonly initialIterators?: ReadonlyMap<string, string>;
  /**
   * When a change was made, for the lag figures (epoch ms). Defaults to the record's approximate
   * creation time; DynamoDB Local truncates that to the minute, so the demo and the benchmark pass
   * a write timestamp carried in the items.
   */
  readonly originTime?: (change: Change) => number | undefined;
  /**
   * Backup mode: every change of a page (all of them, not only the last per key) is written here,
   * e.g. to a change log, before the page is applied; a failure fails the attempt, which is retried,
   * so the checkpoint never passes a change that is not logged.
   */
  readonly logChanges?: (changes: readonly Change[], shardId: string) => Promise<void>;
  /**
   * Applies a batch instead of applyChanges (a multi-active group's direction): same contract, the
   * outcome of every key in the result; `apply` carries the lease check as `guard`.
   */
  readonly applier?: (
    changes: readonly Change[],
    apply: Omit<ApplyOptions, 'signal'>,
  ) => Promise<ApplyResult>;
  /** Called after each batch is durably applied (its checkpoint save is under way). */
  readonly onBatch?: (event: BatchEvent) => void;
  /** Structured log lines (failures, gaps, shard lifecycle): keys and counts, never item values. */
  readonly log?: (event: Readonly<Record<string, unknown>>) => void;
}

export interface BatchEvent {
  readonly shardId: string;
  readonly changes: readonly Change[];
  readonly result: ApplyResult;
  readonly attempts: number;
  /** Epoch ms (Date.now()) when every replica acknowledged the batch's writes. */
  readonly appliedAt: number;
}

export interface ShardStats {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly state: 'waiting' | 'reading' | 'finished';
  readonly records: number;
  readonly lastSequenceNumber?: string;
  /** now - newest applied record's origin time while records are waiting; 0 once caught up. */
  readonly lagMs?: number;
  readonly caughtUp: boolean;
}

export interface RunnerStats {
  readonly streamArn: string;
  readonly uptimeMs: number;
  /** Stream records applied (or skipped as superseded within their batch), cumulative. */
  readonly records: number;
  /** Writes issued to replicas (puts + deletes), cumulative. */
  readonly applied: number;
  readonly skipped: number;
  /** Records whose write breaks one of DynamoDB's item limits: logged (records-rejected), not retried. */
  readonly rejected: number;
  /** Batch attempts that left some keys unapplied (then retried). */
  readonly failedAttempts: number;
  readonly checkpoints: number;
  /** Max over shards. */
  readonly lagMs?: number;
  readonly shards: readonly ShardStats[];
}

export interface RunnerSummary extends RunnerStats {
  readonly reason: 'stopped' | 'idle' | 'stream-ended';
}

/** What a shard's checkpoint carries besides its position. */
function carried(track: ShardTrack): Pick<ShardCheckpoint, 'changeTime' | 'skipBefore'> {
  return {
    ...(track.lastChangeTime !== undefined ? { changeTime: track.lastChangeTime } : {}),
    ...(track.skipBefore !== undefined ? { skipBefore: track.skipBefore } : {}),
  };
}

/**
 * The changes a backfilled shard still needs: those created from `skipBefore` on. A restart before
 * the shard's first new record has no sequence number to resume from and reads the shard from its
 * start; without this, every record older than the copy would be applied again. Once one record
 * passes, the rest of the shard follows it, so the filter (and the checkpoint field) is dropped.
 */
function afterPosition(track: ShardTrack, changes: readonly Change[]): readonly Change[] {
  const from = track.skipBefore;
  if (from === undefined) return changes;
  const kept = changes.filter(
    (c) => c.approximateCreationTime === undefined || c.approximateCreationTime >= from,
  );
  if (kept.length > 0) delete track.skipBefore;
  return kept;
}

interface ShardTrack {
  readonly info: ShardInfo;
  state: 'waiting' | 'reading' | 'finished';
  records: number;
  lastSequenceNumber?: string;
  /** Stream creation time of the last applied record (saved in the checkpoint). */
  lastChangeTime?: number;
  /** From a backfill: records created before this (ms) are in the copy already; never applied. */
  skipBefore?: number;
  newestOrigin?: number;
  caughtUp: boolean;
  /** The latest checkpoint save of this shard (saves of one writer complete in order). */
  commit?: Promise<void>;
  /** Set when a checkpoint save of this shard failed: the shard stops at its next batch. */
  commitError?: unknown;
}

/**
 * Reads a table's stream and applies it to replicas. Shards are read parent before child, each in
 * order, several at once; within a shard, pages that share no key apply concurrently and pages read
 * while earlier ones are written are joined into fuller requests (PageWindow),
 * and the checkpoint, saved behind the applies, never passes a record that is not durably applied on
 * every replica together with every record before it.
 *
 * @example
 * const source = await describeTable(client, 'users');
 * const replicas = [{ client: replicaClient, table: 'users' }];
 * const runner = new StreamRunner({
 *   streams: createStreamsClient(parseServiceLocation('us-east-1')),
 *   streamArn: source.streamArn as string,
 *   apply: { replicas, keySchema: (await prepareReplicas(replicas)).keySchema },
 *   checkpoint: new FileCheckpointStore('users.checkpoint.json'),
 *   from: 'trim-horizon',
 *   signal: AbortSignal.timeout(60_000), // or stopWhenIdleMs
 * });
 * const summary = await runner.run();
 * console.log(summary.reason, summary.records, summary.applied);
 */
export class StreamRunner {
  private readonly tracks = new Map<string, ShardTrack>();
  private readonly started = performance.now();
  private readonly internal = new AbortController();
  private writer: CheckpointWriter | undefined;
  /** The apply options, with the lease check as guard when there is a lease. */
  private apply: Omit<ApplyOptions, 'signal'>;
  private lease: CheckpointLease | undefined;
  private firstStart = false;
  /** On a first start with --from latest: the shards open at that moment, read from their tip. */
  private readonly latestAtStart = new Set<string>();
  private wake = new AbortController();
  private records = 0;
  private applied = 0;
  private skipped = 0;
  private failedAttempts = 0;
  private rejected = 0;
  private lastRecordAt = performance.now();
  private fatal: unknown;
  private streamDisabled = false;

  constructor(private readonly options: RunnerOptions) {
    this.apply = options.apply;
  }

  stats(): RunnerStats {
    const now = Date.now();
    const shards: ShardStats[] = [...this.tracks.values()].map((t) => ({
      shardId: t.info.shardId,
      ...(t.info.parentShardId ? { parentShardId: t.info.parentShardId } : {}),
      state: t.state,
      records: t.records,
      ...(t.lastSequenceNumber ? { lastSequenceNumber: t.lastSequenceNumber } : {}),
      ...(t.caughtUp || t.state === 'finished'
        ? { lagMs: 0 }
        : t.newestOrigin !== undefined
          ? { lagMs: Math.max(0, now - t.newestOrigin) }
          : {}),
      caughtUp: t.caughtUp,
    }));
    const lags = shards.flatMap((s) => (s.lagMs === undefined ? [] : [s.lagMs]));
    return {
      streamArn: this.options.streamArn,
      uptimeMs: Math.round(performance.now() - this.started),
      records: this.records,
      applied: this.applied,
      skipped: this.skipped,
      rejected: this.rejected,
      failedAttempts: this.failedAttempts,
      checkpoints: this.writer?.saveCount ?? 0,
      ...(lags.length ? { lagMs: Math.max(...lags) } : {}),
      shards,
    };
  }

  async run(): Promise<RunnerSummary> {
    const o = this.options;
    const own = o.lease ? undefined : await o.checkpoint.lease?.();
    try {
      return await this.runLeased(o.lease ?? own);
    } finally {
      await own?.release().catch((error: unknown) => {
        o.log?.({ event: 'lease-release-failed', error: (error as Error).message });
      });
    }
  }

  private async runLeased(lease: CheckpointLease | undefined): Promise<RunnerSummary> {
    const o = this.options;
    const store = lease?.store ?? o.checkpoint;
    this.apply = lease ? { ...o.apply, guard: () => lease.check() } : o.apply;
    this.lease = lease;
    const state = await store.load();
    if (state && state.streamArn !== o.streamArn)
      throw new StreamGapError(
        `The checkpoint in ${o.checkpoint.description} belongs to stream ${state.streamArn}, but the table's ` +
          `stream is now ${o.streamArn} (the stream was disabled and re-enabled, or this is another table). ${GAP_ADVICE}`,
      );
    this.firstStart = state === undefined;
    this.writer = new CheckpointWriter(store, o.streamArn, state, {
      minIntervalMs: CHECKPOINT_SAVE_INTERVAL_MS,
    });
    const stop = (): void => this.internal.abort();
    o.signal?.addEventListener('abort', stop, { once: true });
    if (o.signal?.aborted) stop();
    const lost = (): void => {
      this.fatal ??= lease?.signal.reason;
      this.internal.abort();
    };
    lease?.signal.addEventListener('abort', lost, { once: true });
    if (lease?.signal.aborted) lost();
    const limit = pLimit(Math.max(1, o.parallel ?? 4));
    const loops = new Map<string, Promise<void>>();
    let reason: RunnerSummary['reason'] = 'stopped';
    try {
      await this.discover(state, true);
      const discoveryEvery = o.discoveryIntervalMs ?? 2_000;
      let lastDiscovery = performance.now();
      while (!this.internal.signal.aborted) {
        for (const track of this.runnable()) {
          track.state = 'reading';
          const loop = this.shardLoop(track, limit)
            .catch((error: unknown) => {
              this.fatal ??= error;
              this.internal.abort();
            })
            .finally(() => {
              loops.delete(track.info.shardId);
              // A finished parent unblocks its children, which DescribeStream may list by now.
              lastDiscovery = 0;
              this.wake.abort();
            });
          loops.set(track.info.shardId, loop);
        }
        if (this.streamDisabled && [...this.tracks.values()].every((t) => t.state === 'finished')) {
          reason = 'stream-ended';
          break;
        }
        if (this.isIdle()) {
          reason = 'idle';
          break;
        }
        this.wake = new AbortController();
        await sleep(100, AbortSignal.any([this.wake.signal, this.internal.signal])).catch(() => {});
        if (!this.internal.signal.aborted && performance.now() - lastDiscovery >= discoveryEvery) {
          lastDiscovery = performance.now();
          try {
            await this.discover(undefined, false);
          } catch (error) {
            if (this.internal.signal.aborted) break;
            o.log?.({ event: 'describe-stream-failed', error: (error as Error).message });
          }
        }
      }
    } catch (error) {
      this.fatal ??= error;
    } finally {
      this.internal.abort();
      await Promise.allSettled(loops.values());
      o.signal?.removeEventListener('abort', stop);
      lease?.signal.removeEventListener('abort', lost);
      await this.writer.flush().catch((error: unknown) => (this.fatal ??= error));
    }
    if (this.fatal) throw this.fatal;
    return { ...this.stats(), reason };
  }

  private isIdle(): boolean {
    const idleMs = this.options.stopWhenIdleMs;
    if (idleMs === undefined) return false;
    const tracks = [...this.tracks.values()];
    return (
      tracks.every((t) => t.state === 'finished' || (t.state === 'reading' && t.caughtUp)) &&
      performance.now() - this.lastRecordAt >= idleMs
    );
  }

  /** Shards whose parent is finished (or no longer listed), not yet started. */
  private runnable(): ShardTrack[] {
    const out: ShardTrack[] = [];
    for (const t of this.tracks.values()) {
      if (t.state !== 'waiting') continue;
      const parent = t.info.parentShardId ? this.tracks.get(t.info.parentShardId) : undefined;
      if (!parent || parent.state === 'finished') out.push(t);
    }
    return out;
  }

  private async discover(state: CheckpointState | undefined, first: boolean): Promise<void> {
    const writer = this.writer as CheckpointWriter;
    const stream = await describeStream(this.options.streams, this.options.streamArn, this.internal.signal);
    this.streamDisabled = stream.status === 'DISABLED' || stream.status === 'DISABLING';
    const listed = new Set(stream.shards.map((s) => s.shardId));
    if (first && state) {
      // A shard the checkpoint had not finished is gone: its remaining records were trimmed.
      const lost = Object.entries(state.shards).filter(([id, c]) => !c.finished && !listed.has(id));
      if (lost.length)
        throw new StreamGapError(
          `Shard ${lost.map(([id]) => id).join(', ')} of ${this.options.streamArn} was not fully replicated ` +
            `and is no longer in the stream (older than its 24-hour retention). ${GAP_ADVICE}`,
        );
    }
    for (const info of parentFirstOrder(stream.shards)) {
      if (this.tracks.has(info.shardId)) continue;
      const finished = writer.get(info.shardId)?.finished === true;
      // First start from LATEST: closed shards hold only the past (skipped), open ones start at their tip.
      const latest = first && this.firstStart && this.options.from === 'latest';
      const skip = latest && !!info.endingSequenceNumber;
      if (latest && !skip) this.latestAtStart.add(info.shardId);
      this.tracks.set(info.shardId, {
        info,
        state: finished || skip ? 'finished' : 'waiting',
        records: 0,
        caughtUp: finished || skip,
        ...(writer.get(info.shardId)?.sequenceNumber
          ? { lastSequenceNumber: writer.get(info.shardId)?.sequenceNumber }
          : {}),
        ...(writer.get(info.shardId)?.changeTime !== undefined
          ? { lastChangeTime: writer.get(info.shardId)?.changeTime }
          : {}),
        ...(writer.get(info.shardId)?.skipBefore !== undefined
          ? { skipBefore: writer.get(info.shardId)?.skipBefore }
          : {}),
      });
    }
    writer.prune(listed);
  }

  private startFor(track: ShardTrack): ShardStart {
    const c: ShardCheckpoint | undefined = this.writer?.get(track.info.shardId);
    if (c?.sequenceNumber)
      return {
        type: c.inclusive ? 'AT_SEQUENCE_NUMBER' : 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: c.sequenceNumber,
      };
    // Without a checkpoint entry: shards open at a first start with --from latest begin at their tip;
    // everything else (children that appeared later, shards after a restart) starts at the oldest
    // record, which replays rather than skips (at least once).
    return this.latestAtStart.has(track.info.shardId) ? { type: 'LATEST' } : { type: 'TRIM_HORIZON' };
  }

  private async shardLoop(track: ShardTrack, limit: ReturnType<typeof pLimit>): Promise<void> {
    const o = this.options;
    const shardId = track.info.shardId;
    const effectiveStart = this.startFor(track);
    const reader = new ShardReader(
      o.streams,
      o.streamArn,
      shardId,
      effectiveStart,
      o.polling,
      o.initialIterators?.get(shardId),
    );
    o.log?.({ event: 'shard-start', shardId, start: effectiveStart.type });
    const signal = this.internal.signal;
    const fetch = (): Promise<ShardPage | undefined> =>
      reader.next(signal).catch((error: unknown) => {
        if (signal.aborted) return undefined;
        throw error;
      });
    const outcome: ApplyOutcome = { stopped: false };
    const window = this.openWindow(track, limit, outcome);
    // While records flow, the next page is fetched while this one is applied (pages in memory per
    // shard: the ones applying and one more).
    let fetching: Promise<ShardPage | undefined> | undefined = fetch();
    try {
      while (fetching && !signal.aborted && !outcome.stopped && !outcome.failure) {
        const page: ShardPage | undefined = await fetching;
        fetching = undefined;
        if (!page || signal.aborted) break;
        if (!page.end) fetching = fetch();
        if (page.records.length > 0) await this.takePage(track, page, window, outcome);
        track.caughtUp = page.caughtUp && window.size === 0;
        if (page.end) {
          await window.drain();
          if (outcome.stopped || outcome.failure) break;
          await this.finishShard(track);
          return;
        }
      }
    } finally {
      await fetching?.catch(() => {});
      await window.drain();
      await track.commit;
    }
    if (outcome.failure) throw outcome.failure.error;
  }

  /**
   * The shard's page window: a page started by it is applied under `limit`; one started after a
   * stop or a failure is not applied at all. Pages read while earlier ones are written are joined
   * (see PageWindow), up to one GetRecords page of records.
   */
  private openWindow(
    track: ShardTrack,
    limit: ReturnType<typeof pLimit>,
    outcome: ApplyOutcome,
  ): PageWindow<BatchEvent> {
    const o = this.options;
    const start = (page: WindowPage<BatchEvent>): void => {
      if (this.internal.signal.aborted || outcome.stopped || outcome.failure) {
        // Stopped or failed while this page waited for its turn: it is not applied at all.
        window.abandon(page);
        return;
      }
      void limit(() => this.applyBatch(track, window, page)).then(
        (applied) => {
          if (applied) return;
          // Stopped while retrying a failed part: what is durable is checkpointed; stop here.
          outcome.stopped = true;
          window.abandon(page);
        },
        (error: unknown) => {
          outcome.failure ??= { error };
          window.abandon(page);
        },
      );
    };
    const readLimit = o.polling?.limit ?? DEFAULT_POLLING.limit;
    // A change log is written page by page in stream order: there, pages apply one at a time.
    const window: PageWindow<BatchEvent> = new PageWindow<BatchEvent>(
      o.logChanges ? 1 : PAGES_APPLYING_PER_SHARD,
      (durable) => this.checkpointDurable(track, durable),
      (event) => o.onBatch?.(event),
      { start, fullPage: Math.min(MAX_BATCH_WRITES, readLimit), maxRecords: MAX_JOINED_RECORDS },
    );
    return window;
  }

  /**
   * Hands a page to the window, which starts it (or the waiting page it joins) as soon as it may. A
   * page whose records the backfill's copy holds already only moves the checkpoint past them, once
   * every earlier page is durable.
   */
  private async takePage(
    track: ShardTrack,
    page: ShardPage,
    window: PageWindow<BatchEvent>,
    outcome: ApplyOutcome,
  ): Promise<void> {
    const shardId = track.info.shardId;
    this.lastRecordAt = performance.now();
    track.caughtUp = false;
    const all = page.records.map((r, i) => changeFromSdkRecord(r, i, shardId));
    const changes = afterPosition(track, all);
    this.skipped += all.length - changes.length;
    if (changes.length === 0) {
      await window.drain();
      if (outcome.stopped || outcome.failure) return;
      track.lastSequenceNumber = (all.at(-1) as Change).sequenceNumber;
      this.commitBehind(track, track.lastSequenceNumber);
      return;
    }
    await window.offer(changes, new Set(changes.map((c) => canonicalKey(c.keys))));
  }

  /** The shard is closed and every record applied: its checkpoint says finished. */
  private async finishShard(track: ShardTrack): Promise<void> {
    await track.commit;
    await (this.writer as CheckpointWriter).commit(track.info.shardId, {
      finished: true,
      ...(track.lastSequenceNumber ? { sequenceNumber: track.lastSequenceNumber } : {}),
      ...carried(track),
    });
    track.state = 'finished';
    track.caughtUp = true;
    this.options.log?.({ event: 'shard-finished', shardId: track.info.shardId, records: track.records });
  }

  /**
   * Applies one page; on a partial failure, marks what is durable (every record before the lowest
   * failed sequence number; the window checkpoints it once the pages before are durable too) and
   * retries the rest with backoff until it is applied. Returns false when a stop was requested while
   * retrying.
   */
  private async applyBatch(
    track: ShardTrack,
    window: PageWindow<BatchEvent>,
    page: WindowPage<BatchEvent>,
  ): Promise<boolean> {
    const o = this.options;
    const retry = o.retry ?? APPLY_RETRY;
    const maxAttempts = o.maxBatchAttempts ?? retry.maxAttempts;
    const changes = page.changes;
    let pending = changes;
    if (track.commitError) throw track.commitError;
    for (let attempt = 1; ; attempt++) {
      const result = await this.attemptApply(track, pending);
      const appliedAt = Date.now();
      this.applied += result.applied;
      this.skipped += result.skipped;
      if (result.rejected.length > 0) this.reportRejected(track, result);
      const lowest = result.failed.length ? result.lowestFailedSequenceNumber : undefined;
      if (lowest === undefined) {
        window.completed(page, {
          shardId: track.info.shardId,
          changes,
          result,
          attempts: attempt,
          appliedAt,
        });
        return true;
      }
      window.durable(page, changes.length - pending.length + durablePart(pending, lowest).length);
      this.failedAttempts++;
      pending = pending.filter((c) => compareSequenceNumbers(c.sequenceNumber, lowest) >= 0);
      this.reportPartialFailure(track, result, attempt, lowest);
      throwIfHopeless(track, result, lowest, attempt, maxAttempts);
      if (this.internal.signal.aborted) return false; // stop requested: what is durable is checkpointed
      await sleep(backoffDelay(attempt, retry), this.internal.signal).catch(() => {});
      if (this.internal.signal.aborted) return false;
    }
  }

  /**
   * One attempt at `pending`: the lease is checked first (an owner that lost it writes nothing more:
   * not to the change log, not to a replica). A failure of the whole call becomes a result in which
   * every record failed, so it is retried; bad input and a lost lease are thrown.
   */
  private async attemptApply(track: ShardTrack, pending: readonly Change[]): Promise<ApplyResult> {
    const o = this.options;
    await this.lease?.check();
    try {
      if (o.logChanges) await o.logChanges(pending, track.info.shardId);
      return await (o.applier ?? applyChanges)(pending, this.apply);
    } catch (error) {
      // Bad input (e.g. a malformed record, a KEYS_ONLY stream) cannot get better by retrying.
      if (error instanceof ReplicatorError && error.userError) throw error;
      if (error instanceof CheckpointLeaseLostError) throw error;
      // Anything else failed the whole batch: nothing new is durable; retry all of it.
      return wholeBatchFailed(pending, error);
    }
  }

  /** Bad data, not a bad moment: the rest of the batch goes on and the checkpoint passes them. */
  private reportRejected(track: ShardTrack, result: ApplyResult): void {
    this.rejected += result.rejectedRecords;
    this.options.log?.({
      event: 'records-rejected',
      shardId: track.info.shardId,
      records: result.rejectedRecords,
      rejected: result.rejected.map((r) => ({
        key: r.key,
        firstSequenceNumber: r.firstSequenceNumber,
        error: r.error,
      })),
    });
  }

  /** Counts the durable records, notes their times, and checkpoints after the last of them. */
  private checkpointDurable(track: ShardTrack, durable: readonly Change[]): void {
    const last = durable.at(-1);
    if (!last) return;
    this.records += durable.length;
    track.records += durable.length;
    track.lastSequenceNumber = last.sequenceNumber;
    const originOf = this.options.originTime ?? ((c: Change) => c.approximateCreationTime);
    for (const c of durable) {
      const t = originOf(c);
      if (t !== undefined && (track.newestOrigin === undefined || t > track.newestOrigin))
        track.newestOrigin = t;
      if (c.approximateCreationTime !== undefined) track.lastChangeTime = c.approximateCreationTime;
    }
    this.commitBehind(track, last.sequenceNumber);
  }

  /**
   * Checkpoints the shard at `sequenceNumber` (resume after it). Saves run behind the applies and
   * coalesce (one in flight, the newest state next): a slow store (a file fsync can take hundreds of
   * ms) delays the checkpoint, never the replica. A failed save stops the shard at its next batch
   * instead of being ignored.
   */
  private commitBehind(track: ShardTrack, sequenceNumber: string): void {
    track.commit = (this.writer as CheckpointWriter).commit(track.info.shardId, {
      sequenceNumber,
      ...carried(track),
    });
    track.commit.catch((error: unknown) => (track.commitError ??= error));
  }

  private reportPartialFailure(
    track: ShardTrack,
    result: ApplyResult,
    attempt: number,
    lowest: string,
  ): void {
    this.options.log?.({
      event: 'batch-partially-failed',
      shardId: track.info.shardId,
      attempt,
      failedKeys: result.failed.map((f) => f.key),
      errors: [...new Set(result.failed.map((f) => f.error))].slice(0, 3),
      retryFrom: lowest,
    });
  }
}

/** What an attempt made durable: all of `pending`, or the records before the lowest failed one. */
function durablePart(pending: readonly Change[], lowest: string | undefined): readonly Change[] {
  return lowest === undefined
    ? pending
    : pending.filter((c) => compareSequenceNumbers(c.sequenceNumber, lowest) < 0);
}

/** The result of an attempt whose whole call failed: nothing applied, retry from the first record. */
function wholeBatchFailed(pending: readonly Change[], error: unknown): ApplyResult {
  const first = pending[0]?.sequenceNumber ?? '';
  const message = error instanceof Error ? error.message : String(error);
  return {
    received: pending.length,
    applied: 0,
    skipped: 0,
    failed: [{ keyId: '*', key: '(whole batch)', firstSequenceNumber: first, error: message }],
    rejected: [],
    rejectedRecords: 0,
    lowestFailedSequenceNumber: first,
    keys: 0,
    durationMs: 0,
    retries: 0,
  };
}

/**
 * Stops the shard when retrying cannot help: a record the target refuses (it would be refused on
 * every attempt) or the last allowed attempt. The checkpoint stays before `lowest`.
 */
function throwIfHopeless(
  track: ShardTrack,
  result: ApplyResult,
  lowest: string,
  attempt: number,
  maxAttempts: number,
): void {
  const refused = result.failed.find((f) => f.refused);
  if (refused)
    throw new InvalidDataError(
      `Shard ${track.info.shardId}: the record at sequence number ${refused.firstSequenceNumber} (key ${refused.key}) ` +
        `can never be applied: ${refused.error}; the checkpoint stops before sequence number ${lowest}.`,
    );
  if (attempt >= maxAttempts)
    throw new ServiceError(
      `Shard ${track.info.shardId}: ${result.failed.length} key(s) could not be applied after ${attempt} attempts ` +
        `(first: ${result.failed[0]?.key}: ${result.failed[0]?.error}); the checkpoint stops before sequence number ${lowest}.`,
    );
}
