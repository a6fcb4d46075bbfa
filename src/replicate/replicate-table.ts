/**
 * The standalone runner's whole workflow, as a library call: checks, the checkpoint's lease, the
 * backfill hand-off (copy, the change log's base snapshot, checkpoint reset), following the stream,
 * gap recording and resync. Progress is reported as events; the `replicate` command prints them.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { sleep } from '../core/backoff.js';
import type { Change } from '../core/change.js';
import { NotFoundError, ServiceError, UsageError } from '../core/errors.js';
import type { TurnoverFilter } from '../core/turnover.js';
import type { CapacityBudget } from '../dynamodb/capacity.js';
import { describeTable } from '../dynamodb/tables.js';
import { linkedAbortController } from '../dynamodb/unprocessed.js';
import { changeLogSink } from '../backup/change-log.js';
import { claimLog, streamOfArn, type LogClaim } from '../backup/log-identity.js';
import { recordGap, type SnapshotInfo } from '../backup/point-in-time.js';
import { incrementalBackfill } from '../backup/snapshots.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { StreamGapError } from '../streams/reader.js';
import { backfill } from './backfill.js';
import { CheckpointWriter, unappliedSince, type CheckpointStore } from './checkpoint.js';
import { prepareReplicas, type ApplyOptions, type ReplicaTarget } from './engine.js';
import type { CheckpointLease } from './lease.js';
import {
  StreamRunner,
  type BatchEvent,
  type RunnerStats,
  type RunnerSummary,
  type StartFrom,
} from './runner.js';
import type { TransformFn } from './transform.js';

export interface ReplicateTableOptions {
  /** The table whose stream is followed; `label` names it in events and messages (default: table). */
  readonly source: { readonly client: DynamoDBClient; readonly table: string; readonly label?: string };
  /** A DynamoDB Streams client for the source's region. */
  readonly streams: DynamoDBStreamsClient;
  /** Tables with the source's key schema. None: backup-only mode (`changeLog` required). */
  readonly replicas: readonly ReplicaTarget[];
  /** Where the stream position is kept; its lease is taken before anything is written. */
  readonly checkpoint: CheckpointStore;
  /** While another runner holds the checkpoint: wait as a standby instead of failing. */
  readonly waitForLease?: boolean;
  /** First start without a checkpoint: read from the oldest record (default) or from now. */
  readonly from?: StartFrom;
  /** Copy every item first, then replay the stream from a position recorded before the copy. */
  readonly backfill?: boolean;
  /** Budget of the backfill copy's writes (charged once per replica). */
  readonly writeBudget?: CapacityBudget;
  /** On a stream gap: stop with the StreamGapError (default), or record it, backfill and go on. */
  readonly onGap?: 'stop' | 'resync';
  /**
   * The change log (the store of this table's log, e.g. `store.at(table)`): every change is appended
   * before it is applied; a backfill writes the log's base snapshot; a gap is recorded in it.
   */
  readonly changeLog?: ObjectStore;
  readonly transform?: TransformFn;
  readonly turnover?: TurnoverFilter;
  /** Read each changed item from the source instead of taking the stream's new image. */
  readonly readThrough?: boolean;
  /** Shards read at once, and scan segments of a backfill (default 4). */
  readonly parallel?: number;
  /** Finish once caught up and no change arrived for this long. */
  readonly stopWhenIdleMs?: number;
  /** How often `stats` (and backfill-progress) events are sent (default 5 s). */
  readonly statsEveryMs?: number;
  /** Stop: the batch in flight is finished and checkpointed, then the promise resolves. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: ReplicateTableEvent) => void;
  /** Told each time a stream runner starts (again after a resync): its live figures, e.g. for metrics. */
  readonly onRunner?: (runner: { stats(): RunnerStats }) => void;
  /** Called after each batch is durably applied (e.g. for lag percentiles; see StatusTracker). */
  readonly onBatch?: (event: BatchEvent) => void;
}

/** What happened: the `replicate` command prints these as they are (`--json`: one line each). */
export type ReplicateTableEvent =
  | { readonly event: 'lease-wait'; readonly checkpoint: string; readonly holder: string }
  | { readonly event: 'lease-acquired'; readonly checkpoint: string; readonly holder: string }
  | { readonly event: 'lease-release-failed'; readonly error: string }
  | { readonly event: 'backfill-start'; readonly source: string; readonly itemCount: number | undefined }
  | { readonly event: 'backfill-progress'; readonly copied: number }
  | { readonly event: 'backfill-warning'; readonly message: string }
  | { readonly event: 'backup-snapshot'; readonly id: string; readonly items: number }
  | {
      readonly event: 'backfill-done';
      readonly scanned: number;
      readonly written: number;
      readonly skipped: number;
      readonly seconds: number;
    }
  | { readonly event: 'gap'; readonly message: string; readonly action: 'resync' }
  | { readonly event: 'backup-gap'; readonly lossFrom: number; readonly detectedAt: number }
  | ({ readonly event: 'stats'; readonly recordsPerSecond: number } & RunnerStats)
  | ({ readonly event: 'stopped' } & RunnerSummary)
  | RunnerLogEvent;

/** The stream runner's own lines (shards, failed and rejected batches): keys and counts, no values. */
export interface RunnerLogEvent {
  readonly event:
    | 'shard-start'
    | 'shard-finished'
    | 'records-rejected'
    | 'batch-partially-failed'
    | 'describe-stream-failed';
  readonly [field: string]: unknown;
}

export interface ReplicateTableSummary {
  /** Why it ended: stopped (the signal, also while waiting for the lease or copying), idle, stream-ended. */
  readonly reason: RunnerSummary['reason'];
  /** The last stream runner's figures; absent when stopped before the stream was followed. */
  readonly runner?: RunnerSummary;
  /** Backfills run, the first one (`backfill`) and resyncs after gaps. */
  readonly backfills: number;
}

/** Option combinations that cannot work; checked before anything is read or written. */
export function checkReplicateOptions(o: {
  readonly replicas: number;
  readonly changeLog: boolean;
  readonly backfill?: boolean;
  readonly onGap?: 'stop' | 'resync';
  readonly readThrough?: boolean;
}): void {
  if (o.replicas === 0 && !o.changeLog)
    throw new UsageError(
      'replicate needs at least one replica table, or --backup LOCATION to only keep the change log',
    );
  if (o.replicas === 0 && (o.backfill || o.onGap === 'resync'))
    throw new UsageError(
      'without a replica there is nothing to backfill: seed the change log with incremental-backfill instead of --backfill / --on-gap resync',
    );
  if (o.changeLog && o.readThrough)
    throw new UsageError("--backup needs the stream's new images: it cannot be combined with --read-through");
}

/** After a resync with a change log, changes must be stamped after the recorded gap (whole seconds). */
const GAP_SETTLE_MS = 2_000;

interface Prepared {
  readonly o: ReplicateTableOptions;
  readonly label: string;
  readonly streamArn: string;
  readonly itemCount?: number;
  readonly apply: Omit<ApplyOptions, 'signal'>;
  readonly logChanges?: (changes: readonly Change[]) => Promise<void>;
  readonly emit: (event: ReplicateTableEvent) => void;
  readonly stop: AbortSignal;
}

/**
 * Follows the source table's stream and applies every change to the replicas (and/or the change
 * log) until `signal` aborts, the stream ends, or it is idle for `stopWhenIdleMs`. Refusals (no
 * stream, a replica with another key schema, a log of another table, a held checkpoint) come before
 * anything is written.
 */
export async function replicateTable(o: ReplicateTableOptions): Promise<ReplicateTableSummary> {
  checkReplicateOptions({ ...o, replicas: o.replicas.length, changeLog: o.changeLog !== undefined });
  const label = o.source.label ?? o.source.table;
  const info = await describeTable(o.source.client, o.source.table);
  if (!info.streamArn)
    throw new NotFoundError(
      `${label} has no stream enabled. Enable one (StreamViewType NEW_AND_OLD_IMAGES or NEW_IMAGE), ` +
        'e.g. `aws dynamodb update-table --table-name ' +
        `${o.source.table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES\``,
    );
  if ((info.streamViewType === 'KEYS_ONLY' || info.streamViewType === 'OLD_IMAGE') && !o.readThrough)
    throw new UsageError(
      `The stream of ${label} is ${info.streamViewType}: its records carry no new image to replicate. ` +
        'Switch the stream to NEW_AND_OLD_IMAGES (or NEW_IMAGE), or pass --read-through to read each changed item from the source.',
    );
  if (o.replicas.length > 0) await prepareReplicas(o.replicas, { keySchema: info.keySchema, label });
  const owner: LogClaim = {
    table: o.source.table,
    keySchema: info.keySchema,
    stream: streamOfArn(info.streamArn),
  };
  const stop = o.signal ?? new AbortController().signal;
  const p: Prepared = {
    o,
    label,
    streamArn: info.streamArn,
    ...(info.itemCount !== undefined ? { itemCount: info.itemCount } : {}),
    apply: {
      replicas: o.replicas,
      keySchema: info.keySchema,
      ...(o.transform ? { transform: o.transform } : {}),
      ...(o.turnover ? { turnover: o.turnover } : {}),
      ...(o.readThrough ? { readThrough: { client: o.source.client, table: o.source.table } } : {}),
    },
    ...(o.changeLog
      ? { logChanges: changeLogSink(o.changeLog, { owner, ...(o.turnover ? { turnover: o.turnover } : {}) }) }
      : {}),
    emit: (event) => o.onEvent?.(event),
    stop,
  };
  // Nothing is written (replica, change log, checkpoint) before the checkpoint's lease is ours.
  const lease = await takeLease(p);
  if (!lease) return { reason: 'stopped', backfills: 0 }; // stopped while waiting as a standby
  try {
    // The log must be this table's (or new) before anything is copied, applied or logged.
    if (o.changeLog) await claimLog(o.changeLog, owner, formatStoreLocation(o.changeLog.location));
    return await leasedLoop(p, lease);
  } finally {
    await lease.release().catch((error: unknown) => {
      // It ends by itself at its expiry; the run's own result stands.
      p.emit({ event: 'lease-release-failed', error: (error as Error).message });
    });
  }
}

/** The checkpoint's lease, waiting for it as a standby if asked; undefined if stopped while waiting. */
async function takeLease(p: Prepared): Promise<CheckpointLease | undefined> {
  const store = p.o.checkpoint;
  if (!store.lease) throw new TypeError(`${store.description} has no lease`);
  try {
    const lease = await store.lease({
      wait: p.o.waitForLease === true,
      signal: p.stop,
      onWait: (holder) => p.emit({ event: 'lease-wait', checkpoint: store.description, holder }),
    });
    p.emit({ event: 'lease-acquired', checkpoint: store.description, holder: lease.holder });
    return lease;
  } catch (error) {
    if (p.stop.aborted) return undefined;
    throw error;
  }
}

async function leasedLoop(p: Prepared, lease: CheckpointLease): Promise<ReplicateTableSummary> {
  const { o, stop } = p;
  let doBackfill = o.backfill === true;
  let backfills = 0;
  for (;;) {
    let iterators: ReadonlyMap<string, string> | undefined;
    if (doBackfill) {
      backfills++;
      iterators = await runBackfill(p, lease).catch(async (error: unknown) => {
        if (lease.signal.aborted) throw lease.signal.reason;
        await recordLogGap(p, lease, error);
        throw error;
      });
      if (lease.signal.aborted) throw lease.signal.reason;
      if (stop.aborted) return { reason: 'stopped', backfills };
    }
    const runner = new StreamRunner({
      streams: o.streams,
      streamArn: p.streamArn,
      apply: p.apply,
      ...(p.logChanges ? { logChanges: p.logChanges } : {}),
      checkpoint: lease.store,
      lease,
      from: o.from ?? 'trim-horizon',
      parallel: o.parallel ?? 4,
      signal: stop,
      ...(o.stopWhenIdleMs !== undefined ? { stopWhenIdleMs: o.stopWhenIdleMs } : {}),
      ...(iterators ? { initialIterators: iterators } : {}),
      log: (event) => p.emit(event as RunnerLogEvent),
      ...(o.onBatch ? { onBatch: o.onBatch } : {}),
    });
    o.onRunner?.(runner);
    const ticker = statsTicker(runner, p);
    let summary: RunnerSummary;
    try {
      summary = await runner.run();
    } catch (error) {
      await recordLogGap(p, lease, error);
      if (error instanceof StreamGapError && o.onGap === 'resync' && !stop.aborted) {
        p.emit({ event: 'gap', message: error.message, action: 'resync' });
        // Changes after the new position must be stamped after the recorded gap (stream times are
        // whole seconds from DynamoDB's clock), or a restore would not apply them over the new base.
        if (o.changeLog) await sleep(GAP_SETTLE_MS, stop).catch(() => {});
        doBackfill = true;
        continue;
      }
      throw error;
    } finally {
      clearInterval(ticker);
    }
    p.emit({ event: 'stopped', ...summary });
    return { reason: summary.reason, runner: summary, backfills };
  }
}

/**
 * A stream gap means the change log misses the trimmed changes too: record it, so a point-in-time
 * restore refuses the moments it leaves unknown instead of rebuilding them without those changes.
 */
async function recordLogGap(p: Prepared, lease: CheckpointLease, error: unknown): Promise<void> {
  const logStore = p.o.changeLog;
  if (!(error instanceof StreamGapError) || !logStore) return;
  let gap;
  try {
    gap = await recordGap(logStore, {
      lossFrom: unappliedSince(await lease.store.load()),
      detectedAt: Date.now(),
      reason: 'stream records were trimmed before they were logged',
    });
  } catch (recordError) {
    // Not a StreamGapError: no resync may run while the log does not know about the gap.
    throw new ServiceError(
      `${error.message} Recording the gap in the change log failed too (${(recordError as Error).message}): ` +
        'point-in-time restores would not know that changes are missing. Fix the backup location and run again.',
      { cause: error },
    );
  }
  p.emit({ event: 'backup-gap', lossFrom: gap.lossFrom, detectedAt: gap.detectedAt });
}

/** The hand-off: position, copy (and the log's base snapshot), checkpoint reset; returns live iterators. */
async function runBackfill(p: Prepared, lease: CheckpointLease): Promise<ReadonlyMap<string, string>> {
  const { o } = p;
  const signal = AbortSignal.any([p.stop, lease.signal]);
  const parallel = o.parallel ?? 4;
  const statsEveryMs = o.statsEveryMs ?? 5_000;
  p.emit({ event: 'backfill-start', source: p.label, itemCount: p.itemCount });
  let lastReport = 0;
  // With a change log, the log gets its base snapshot from a scan run beside the copy. It starts
  // once the stream position is recorded: the log replays from that position, so every change the
  // scan may have missed is logged.
  const { controller: both, dispose } = linkedAbortController(signal);
  let positionRecorded = (): void => {};
  const recorded = new Promise<void>((resolve, reject) => {
    positionRecorded = resolve;
    both.signal.addEventListener('abort', () => reject(both.signal.reason as Error), { once: true });
  });
  recorded.catch(() => {}); // without a change log nobody waits for it
  const logStore = o.changeLog;
  const seeding = logStore
    ? recorded.then(() =>
        incrementalBackfill(o.source.client, logStore, {
          table: o.source.table,
          parallel,
          signal: both.signal,
        }),
      )
    : Promise.resolve(undefined);
  const copying = backfill({
    source: { client: o.source.client, table: o.source.table },
    streams: o.streams,
    streamArn: p.streamArn,
    apply: {
      replicas: p.apply.replicas,
      keySchema: p.apply.keySchema,
      ...(p.apply.transform ? { transform: p.apply.transform } : {}),
      guard: () => lease.check(),
    },
    parallel,
    ...(o.writeBudget ? { writeBudget: o.writeBudget } : {}),
    ...(p.itemCount !== undefined ? { itemCount: p.itemCount } : {}),
    onPositionRecorded: positionRecorded,
    signal: both.signal,
    warn: (message) => p.emit({ event: 'backfill-warning', message }),
    onProgress: (copied) => {
      const now = performance.now();
      if (now - lastReport < statsEveryMs) return;
      lastReport = now;
      p.emit({ event: 'backfill-progress', copied });
    },
  });
  let result: Awaited<typeof copying>;
  let snapshot: SnapshotInfo | undefined;
  try {
    [result, snapshot] = await Promise.all([copying, seeding]);
  } catch (error) {
    // The first failure is the one reported; the other scan stops rather than run on unseen.
    both.abort(error);
    await Promise.allSettled([copying, seeding]);
    throw error;
  } finally {
    dispose();
  }
  if (snapshot) p.emit({ event: 'backup-snapshot', id: snapshot.id, items: snapshot.itemCount });
  // The recorded position becomes the checkpoint: a restart after this point replays from it.
  await new CheckpointWriter(lease.store, p.streamArn).reset(result.position.shards);
  p.emit({
    event: 'backfill-done',
    scanned: result.copy.scanned,
    written: result.copy.written,
    skipped: result.copy.skipped,
    seconds: Number(result.copy.seconds.toFixed(3)),
  });
  return result.position.iterators;
}

/** A `stats` event every `statsEveryMs`, with the record rate since the previous one. */
function statsTicker(runner: StreamRunner, p: Prepared): NodeJS.Timeout {
  let previous = { records: 0, at: performance.now() };
  const timer = setInterval(() => {
    const stats = runner.stats();
    const now = performance.now();
    const rate = ((stats.records - previous.records) * 1000) / Math.max(1, now - previous.at);
    previous = { records: stats.records, at: now };
    p.emit({ event: 'stats', recordsPerSecond: Math.round(rate), ...stats });
  }, p.o.statsEveryMs ?? 5_000);
  timer.unref();
  return timer;
}
