import { createServer, type Server } from 'node:http';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { NotFoundError, ServiceError, UsageError } from '../../core/errors.js';
import { parseTableLocation } from '../../core/location.js';
import { redactUrls } from '../../core/redact.js';
import type { TurnoverFilter } from '../../core/turnover.js';
import { turnoverOption } from '../time-option.js';
import { createDynamoClient, createStreamsClient } from '../../dynamodb/client.js';
import { describeTable } from '../../dynamodb/tables.js';
import { backfill } from '../../replicate/backfill.js';
import {
  CheckpointWriter,
  DynamoCheckpointStore,
  unappliedSince,
  FileCheckpointStore,
  type CheckpointStore,
} from '../../replicate/checkpoint.js';
import { prepareReplicas, type ApplyOptions, type ReplicaTarget } from '../../replicate/engine.js';
import type { CheckpointLease } from '../../replicate/lease.js';
import { prometheusText } from '../../replicate/metrics.js';
import {
  StreamRunner,
  type RunnerStats,
  type RunnerSummary,
  type StartFrom,
} from '../../replicate/runner.js';
import { checkCheckpointFile, defaultCheckpointFile } from '../../replicate/checkpoint-file.js';
import { loadTransform } from '../../replicate/transform.js';
import { StreamGapError } from '../../streams/reader.js';
import { WRITE_BUDGET_HELP, WRITE_BUDGET_OPTIONS, writeBudgetOption } from '../budgets.js';
import { intOption, stringOption, type CliIO, type Command, type ParsedArgs } from '../command.js';
import { parseDuration } from '../duration.js';
import { sleep } from '../../core/backoff.js';
import { cliClientOptions, closing, openTable, type OpenTable } from '../locations.js';
import { openBackupStore } from '../backup-store.js';
import { STORE_HELP, STORE_OPTIONS } from '../store-options.js';
import { changeLogSink } from '../../backup/change-log.js';
import type { Change } from '../../core/change.js';
import { recordGap, type SnapshotInfo } from '../../backup/point-in-time.js';
import { incrementalBackfill } from '../../backup/snapshots.js';
import { assertLogOwnedBy, streamOfArn, type LogClaim } from '../../backup/log-identity.js';
import { linkedAbortController } from '../../dynamodb/unprocessed.js';
import { formatStoreLocation, type ObjectStore } from '../../storage/object-store.js';

export const replicateCommand: Command = {
  name: 'replicate',
  summary: "Follow a table's stream and apply every change to one or more replicas (standalone runner)",
  help: `Usage: dynamodb-replicator replicate <source> <replica> [<replica>...] [options]
       dynamodb-replicator replicate <source> --backup LOCATION [options]   (back up only)

Reads the source table's DynamoDB stream (it must be enabled, NEW_IMAGE or NEW_AND_OLD_IMAGES unless
--read-through) and applies every change to each replica: the same engine as the Lambda handler,
without Lambda. Shards are read parent before child, several at once, each in order; the position is
checkpointed after every applied batch and never passes a change that is not on every replica, so a
restart resumes where it stopped (at least once). SIGINT/SIGTERM finish the batch in flight,
checkpoint and exit 0. The checkpoint is held under a lease: a second runner on it exits 2 naming
the holder (or waits, with --wait-for-lease), and a runner that loses its lease stops (exit 2).

Arguments:
  source     region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica    same forms; must exist with the source's key schema. Without any replica, --backup is
             required and the runner only keeps the change log (its default checkpoint file is
             .dynamodb-replicator/<source table>.backup.checkpoint.json)

Options:
  --checkpoint FILE        checkpoint file (default .dynamodb-replicator/<source table>.checkpoint.json,
                           mode 0600; a very long table name is cut and followed by its hash)
  --checkpoint-table LOC   keep the checkpoint in a DynamoDB table instead (hash key "id" S)
  --wait-for-lease         when another runner holds the checkpoint, wait as a standby and take
                           over once it stops (file: its process ends; table: its lease is
                           released or expires) instead of exiting 2
  --lease-duration DUR     --checkpoint-table only: how long the lease lasts without renewal
                           (default 20s; renewed every quarter of it, and no write to a replica in
                           its last quarter)
  --from WHERE             first start without a checkpoint: trim-horizon (default, everything the
                           stream still holds) or latest (only changes from now on)
  --backfill               copy every existing item first, then replay the stream from a position
                           recorded before the copy (no change is lost; see the README on the 24-hour
                           stream retention)
  --parallel K             shards read at once, and scan segments for --backfill (default 4)
${WRITE_BUDGET_HELP}
                           (both apply to the --backfill copy)
  --transform MODULE       a module exporting transform(change) -> change | null (drop)
  --turnover-role ROLE     BEFORE or AFTER: the cut-over filter, with --turnover-at
  --turnover-at TIME       cut-over instant, ISO 8601 or epoch milliseconds
  --backup LOCATION        also append every change to the change log at LOCATION/<source table>
                           (s3://bucket/prefix, a directory or file:// URL; the layout the backup
                           Lambda handler writes), one segment per stream page per shard, before the
                           page is applied; see incremental-backfill and restore --at. With
                           --backfill (or a resync), a second scan beside the copy writes the log's
                           base snapshot, so the log can be restored on its own
${STORE_HELP}
  --read-through           read the current item from the source (consistent read) instead of
                           taking the stream's new image; required for KEYS_ONLY/OLD_IMAGE streams
  --on-gap WHAT            when changes were trimmed from the stream before being applied: stop
                           (default, exit 2) or resync (backfill, then continue)
  --stop-when-idle DUR     exit 0 once caught up and no change arrived for DUR (e.g. 5s; default:
                           run until SIGINT/SIGTERM)
  --stats-every DUR        how often to print records/s and lag (default 5s)
  --metrics-port PORT      serve the figures as Prometheus text on http://127.0.0.1:PORT/metrics
  --json                   print stats and the final summary as JSON lines on stdout
  --debug                  print stack traces on errors`,
  options: {
    backup: { type: 'string' },
    ...STORE_OPTIONS,
    checkpoint: { type: 'string' },
    'checkpoint-table': { type: 'string' },
    'wait-for-lease': { type: 'boolean' },
    'lease-duration': { type: 'string' },
    from: { type: 'string' },
    backfill: { type: 'boolean' },
    parallel: { type: 'string' },
    transform: { type: 'string' },
    'turnover-role': { type: 'string' },
    'turnover-at': { type: 'string' },
    'read-through': { type: 'boolean' },
    'on-gap': { type: 'string' },
    'stop-when-idle': { type: 'string' },
    'stats-every': { type: 'string' },
    'metrics-port': { type: 'string' },
    ...WRITE_BUDGET_OPTIONS,
  },
  positionals: [1, Infinity],
  async run(args, io) {
    const settings = parseSettings(args);
    const backupOnly = args.positionals.length === 1;
    if (backupOnly) assertBackupOnly(args, settings);
    const source = openTable(args.positionals[0] as string, io);
    const replicas = args.positionals.slice(1).map((text) => openTable(text, io));
    const labels = new Set<string>([source.label]);
    for (const r of replicas) {
      if (labels.has(r.label))
        throw new UsageError(`replicate: ${r.label} is given twice (or is the source)`);
      labels.add(r.label);
    }
    const streams = createStreamsClient(source.location, cliClientOptions(io));
    const checkpointClient = settings.checkpointTable
      ? createDynamoClient(settings.checkpointTable, cliClientOptions(io))
      : undefined;
    const clients = [
      source.client,
      ...replicas.map((r) => r.client),
      streams,
      ...(checkpointClient ? [checkpointClient] : []),
    ];
    const checkpointFile = settings.checkpointTable
      ? undefined
      : (settings.checkpointFile ?? defaultCheckpointFile(source.table, backupOnly ? 'backup' : undefined));
    return closing(clients, async () => {
      if (checkpointFile !== undefined) await checkCheckpointFile(checkpointFile);
      const prepared = await prepare(source, replicas, settings);
      const store: CheckpointStore =
        settings.checkpointTable && checkpointClient
          ? new DynamoCheckpointStore(
              checkpointClient,
              settings.checkpointTable.table,
              backupOnly
                ? `${source.label} backup`
                : `${source.label} -> ${replicas.map((r) => r.label).join(', ')}`,
              settings.leaseDurationMs !== undefined ? { durationMs: settings.leaseDurationMs } : {},
            )
          : new FileCheckpointStore(checkpointFile as string);
      const backupText = stringOption(args, 'backup');
      if (backupText !== undefined && settings.readThrough)
        throw new UsageError(
          "--backup needs the stream's new images: it cannot be combined with --read-through",
        );
      const backupLog = backupText === undefined ? undefined : openBackupStore(backupText, args, io);
      const logStore = backupLog?.store.at(source.table);
      // The log must be this table's (or new) before anything is copied, applied or logged.
      const owner: LogClaim = {
        table: source.table,
        keySchema: prepared.apply.keySchema,
        stream: streamOfArn(prepared.streamArn),
      };
      const logChanges = logStore
        ? changeLogSink(logStore, { owner, ...(settings.turnover ? { turnover: settings.turnover } : {}) })
        : undefined;
      try {
        // Only checked here: the log records its identity with its first write, under the lease.
        if (logStore) await assertLogOwnedBy(logStore, owner, formatStoreLocation(logStore.location));
        return await replicateLoop({
          io,
          settings,
          source,
          streams,
          store,
          ...prepared,
          ...(logChanges && logStore ? { logChanges, logStore } : {}),
        });
      } finally {
        backupLog?.destroy();
      }
    });
  },
};

interface Settings {
  readonly checkpointFile?: string;
  readonly checkpointTable?: ReturnType<typeof parseTableLocation>;
  readonly waitForLease: boolean;
  readonly leaseDurationMs?: number;
  readonly from: StartFrom;
  readonly backfill: boolean;
  readonly parallel: number;
  readonly writeBudget: ReturnType<typeof writeBudgetOption>;
  readonly transform?: string;
  readonly turnover?: TurnoverFilter;
  readonly readThrough: boolean;
  readonly onGap: 'stop' | 'resync';
  readonly stopWhenIdleMs?: number;
  readonly statsEveryMs: number;
  readonly metricsPort?: number;
  readonly json: boolean;
}

function parseSettings(args: ParsedArgs): Settings {
  const from = stringOption(args, 'from') ?? 'trim-horizon';
  if (from !== 'trim-horizon' && from !== 'latest')
    throw new UsageError(`--from must be trim-horizon or latest, got "${from}"`);
  const onGap = stringOption(args, 'on-gap') ?? 'stop';
  if (onGap !== 'stop' && onGap !== 'resync')
    throw new UsageError(`--on-gap must be stop or resync, got "${onGap}"`);
  const checkpointFile = stringOption(args, 'checkpoint');
  const checkpointTableText = stringOption(args, 'checkpoint-table');
  if (checkpointFile && checkpointTableText)
    throw new UsageError('--checkpoint and --checkpoint-table are alternatives: give one');
  const leaseDuration = stringOption(args, 'lease-duration');
  if (leaseDuration !== undefined && !checkpointTableText)
    throw new UsageError(
      '--lease-duration applies to --checkpoint-table only (a checkpoint file is locked while its runner lives)',
    );
  const leaseDurationMs =
    leaseDuration !== undefined ? parseDuration(leaseDuration, 'lease-duration') : undefined;
  if (leaseDurationMs !== undefined && leaseDurationMs < 1_000)
    throw new UsageError(`--lease-duration must be at least 1s, got "${leaseDuration}"`);
  const idle = stringOption(args, 'stop-when-idle');
  const every = stringOption(args, 'stats-every');
  const metricsPort = intOption(args, 'metrics-port', undefined, { min: 0, max: 65535 });
  const transform = stringOption(args, 'transform');
  const turnover = turnoverOption(args);
  return {
    ...(checkpointFile ? { checkpointFile } : {}),
    ...(checkpointTableText ? { checkpointTable: parseTableLocation(checkpointTableText) } : {}),
    waitForLease: args.values['wait-for-lease'] === true,
    ...(leaseDurationMs !== undefined ? { leaseDurationMs } : {}),
    from,
    backfill: args.values.backfill === true,
    parallel: intOption(args, 'parallel', 4, { min: 1, max: 1000 }) as number,
    writeBudget: writeBudgetOption(args),
    ...(transform ? { transform } : {}),
    ...(turnover ? { turnover } : {}),
    readThrough: args.values['read-through'] === true,
    onGap,
    ...(idle !== undefined ? { stopWhenIdleMs: parseDuration(idle, 'stop-when-idle') } : {}),
    statsEveryMs: every !== undefined ? Math.max(100, parseDuration(every, 'stats-every')) : 5_000,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    json: args.values.json === true,
  };
}

/** `replicate <source> --backup LOCATION`: only the change log is written; refuse what needs a replica. */
function assertBackupOnly(args: ParsedArgs, s: Settings): void {
  if (stringOption(args, 'backup') === undefined)
    throw new UsageError(
      'replicate needs at least one replica table, or --backup LOCATION to only keep the change log',
    );
  if (s.backfill || s.onGap === 'resync')
    throw new UsageError(
      'without a replica there is nothing to backfill: seed the change log with incremental-backfill instead of --backfill / --on-gap resync',
    );
}

interface Prepared {
  readonly streamArn: string;
  readonly itemCount?: number;
  readonly apply: Omit<ApplyOptions, 'signal'>;
}

/** Every check that can refuse the run happens here, before anything is written. */
async function prepare(source: OpenTable, replicas: readonly OpenTable[], s: Settings): Promise<Prepared> {
  const info = await describeTable(source.client, source.table);
  if (!info.streamArn)
    throw new NotFoundError(
      `${source.label} has no stream enabled. Enable one (StreamViewType NEW_AND_OLD_IMAGES or NEW_IMAGE), ` +
        'e.g. `aws dynamodb update-table --table-name ' +
        `${source.table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES\``,
    );
  if ((info.streamViewType === 'KEYS_ONLY' || info.streamViewType === 'OLD_IMAGE') && !s.readThrough)
    throw new UsageError(
      `The stream of ${source.label} is ${info.streamViewType}: its records carry no new image to replicate. ` +
        'Switch the stream to NEW_AND_OLD_IMAGES (or NEW_IMAGE), or pass --read-through to read each changed item from the source.',
    );
  const targets: ReplicaTarget[] = replicas.map((r) => ({
    client: r.client,
    table: r.table,
    label: r.label,
  }));
  if (targets.length > 0) await prepareReplicas(targets, { keySchema: info.keySchema, label: source.label });
  const transform = s.transform ? await loadTransform(s.transform, { label: '--transform' }) : undefined;
  return {
    streamArn: info.streamArn,
    ...(info.itemCount !== undefined ? { itemCount: info.itemCount } : {}),
    apply: {
      replicas: targets,
      keySchema: info.keySchema,
      ...(transform ? { transform } : {}),
      ...(s.turnover ? { turnover: s.turnover } : {}),
      ...(s.readThrough ? { readThrough: { client: source.client, table: source.table } } : {}),
    },
  };
}

interface LoopInput extends Prepared {
  readonly io: CliIO;
  readonly settings: Settings;
  readonly source: OpenTable;
  readonly streams: DynamoDBStreamsClient;
  readonly store: CheckpointStore;
  /** --backup: the change log sink. */
  readonly logChanges?: (changes: readonly Change[]) => Promise<void>;
  /** --backup: the change log, which a backfill seeds with a base snapshot. */
  readonly logStore?: ObjectStore;
}

/** Runs the runner (after a backfill if asked), resyncing on a gap if asked; returns the exit code. */
async function replicateLoop(input: LoopInput): Promise<number> {
  const { io, settings: s } = input;
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let current: StreamRunner | undefined;
  const metrics =
    s.metricsPort !== undefined ? await serveMetrics(s.metricsPort, () => current?.stats(), io) : undefined;
  // Events carry SDK error messages, which may quote an endpoint: credentials in URLs are redacted.
  const log = (event: Readonly<Record<string, unknown>>): void => {
    if (s.json) io.stdout.write(redactUrls(JSON.stringify(event)) + '\n');
    else
      io.stderr.write(
        redactUrls(`${String(event.event)}: ${JSON.stringify({ ...event, event: undefined })}`) + '\n',
      );
  };
  try {
    // Nothing is written (replica, change log, checkpoint) before the checkpoint's lease is ours.
    const lease = await takeLease(input.store, s.waitForLease, stop.signal, log);
    if (!lease) return 0; // stopped while waiting as a standby
    try {
      return await leasedLoop({ ...input, store: lease.store }, lease, stop.signal, log, (runner) => {
        current = runner;
      });
    } finally {
      await lease.release().catch((error: unknown) => {
        // It ends by itself at its expiry; the run's own result stands.
        log({ event: 'lease-release-failed', error: (error as Error).message });
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
  }
}

type Log = (event: Readonly<Record<string, unknown>>) => void;

/** The checkpoint's lease, waiting for it as a standby if asked; undefined if stopped while waiting. */
async function takeLease(
  store: CheckpointStore,
  wait: boolean,
  signal: AbortSignal,
  log: Log,
): Promise<CheckpointLease | undefined> {
  if (!store.lease) throw new TypeError(`${store.description} has no lease`);
  try {
    const lease = await store.lease({
      wait,
      signal,
      onWait: (holder) => log({ event: 'lease-wait', checkpoint: store.description, holder }),
    });
    log({ event: 'lease-acquired', checkpoint: store.description, holder: lease.holder });
    return lease;
  } catch (error) {
    if (signal.aborted) return undefined;
    throw error;
  }
}

async function leasedLoop(
  input: LoopInput,
  lease: CheckpointLease,
  stop: AbortSignal,
  log: Log,
  started: (runner: StreamRunner) => void,
): Promise<number> {
  const s = input.settings;
  let doBackfill = s.backfill;
  for (;;) {
    let iterators: ReadonlyMap<string, string> | undefined;
    if (doBackfill) {
      iterators = await runBackfill(input, lease, stop, log).catch(async (error: unknown) => {
        if (lease.signal.aborted) throw lease.signal.reason;
        await recordLogGap(input, error, log);
        throw error;
      });
      if (lease.signal.aborted) throw lease.signal.reason;
      if (stop.aborted) return 0;
    }
    const runner = new StreamRunner({
      streams: input.streams,
      streamArn: input.streamArn,
      apply: input.apply,
      ...(input.logChanges ? { logChanges: input.logChanges } : {}),
      checkpoint: lease.store,
      lease,
      from: s.from,
      parallel: s.parallel,
      signal: stop,
      ...(s.stopWhenIdleMs !== undefined ? { stopWhenIdleMs: s.stopWhenIdleMs } : {}),
      ...(iterators ? { initialIterators: iterators } : {}),
      log,
    });
    started(runner);
    const ticker = statsTicker(runner, s, input.io);
    let summary: RunnerSummary;
    try {
      summary = await runner.run();
    } catch (error) {
      await recordLogGap(input, error, log);
      if (error instanceof StreamGapError && s.onGap === 'resync' && !stop.aborted) {
        log({ event: 'gap', message: error.message, action: 'resync' });
        // Changes after the new position must be stamped after the recorded gap (stream times are
        // whole seconds from DynamoDB's clock), or a restore would not apply them over the new base.
        if (input.logStore) await sleep(GAP_SETTLE_MS, stop).catch(() => {});
        doBackfill = true;
        continue;
      }
      throw error;
    } finally {
      clearInterval(ticker);
    }
    printSummary(input.io, summary, s.json);
    return 0;
  }
}

const GAP_SETTLE_MS = 2_000;

/**
 * A stream gap means the change log misses the trimmed changes too: record it, so a point-in-time
 * restore refuses the moments it leaves unknown instead of rebuilding them without those changes.
 */
async function recordLogGap(
  input: LoopInput,
  error: unknown,
  log: (event: Readonly<Record<string, unknown>>) => void,
): Promise<void> {
  if (!(error instanceof StreamGapError) || !input.logStore) return;
  let gap;
  try {
    gap = await recordGap(input.logStore, {
      lossFrom: unappliedSince(await input.store.load()),
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
  log({ event: 'backup-gap', lossFrom: gap.lossFrom, detectedAt: gap.detectedAt });
}

async function runBackfill(
  input: LoopInput,
  lease: CheckpointLease,
  stop: AbortSignal,
  log: Log,
): Promise<ReadonlyMap<string, string>> {
  const signal = AbortSignal.any([stop, lease.signal]);
  const s = input.settings;
  log({ event: 'backfill-start', source: input.source.label, itemCount: input.itemCount });
  let lastReport = 0;
  // With --backup, the change log gets its base snapshot from a scan run beside the copy. It starts
  // once the stream position is recorded: the log replays from that position, so every change the
  // scan may have missed is logged.
  const { controller: both, dispose } = linkedAbortController(signal);
  let positionRecorded = (): void => {};
  const recorded = new Promise<void>((resolve, reject) => {
    positionRecorded = resolve;
    both.signal.addEventListener('abort', () => reject(both.signal.reason as Error), { once: true });
  });
  recorded.catch(() => {}); // without --backup nobody waits for it
  const logStore = input.logStore;
  const seeding = logStore
    ? recorded.then(() =>
        incrementalBackfill(input.source.client, logStore, {
          table: input.source.table,
          parallel: s.parallel,
          signal: both.signal,
        }),
      )
    : Promise.resolve(undefined);
  const copying = backfill({
    source: { client: input.source.client, table: input.source.table },
    streams: input.streams,
    streamArn: input.streamArn,
    apply: {
      replicas: input.apply.replicas,
      keySchema: input.apply.keySchema,
      ...(input.apply.transform ? { transform: input.apply.transform } : {}),
      guard: () => lease.check(),
    },
    parallel: s.parallel,
    ...(s.writeBudget ? { writeBudget: s.writeBudget } : {}),
    ...(input.itemCount !== undefined ? { itemCount: input.itemCount } : {}),
    onPositionRecorded: positionRecorded,
    signal: both.signal,
    warn: (message) => log({ event: 'backfill-warning', message }),
    onProgress: (copied) => {
      const now = performance.now();
      if (now - lastReport < s.statsEveryMs) return;
      lastReport = now;
      log({ event: 'backfill-progress', copied });
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
  if (snapshot) log({ event: 'backup-snapshot', id: snapshot.id, items: snapshot.itemCount });
  // The recorded position becomes the checkpoint: a restart after this point replays from it.
  await new CheckpointWriter(input.store, input.streamArn).reset(result.position.shards);
  log({
    event: 'backfill-done',
    scanned: result.copy.scanned,
    written: result.copy.written,
    skipped: result.copy.skipped,
    seconds: Number(result.copy.seconds.toFixed(3)),
  });
  return result.position.iterators;
}

function statsTicker(runner: StreamRunner, s: Settings, io: CliIO): NodeJS.Timeout {
  let previous = { records: 0, at: performance.now() };
  const timer = setInterval(() => {
    const stats = runner.stats();
    const now = performance.now();
    const rate = ((stats.records - previous.records) * 1000) / Math.max(1, now - previous.at);
    previous = { records: stats.records, at: now };
    if (s.json)
      io.stdout.write(
        JSON.stringify({ event: 'stats', recordsPerSecond: Math.round(rate), ...stats }) + '\n',
      );
    else io.stderr.write(statsLine(stats, rate) + '\n');
  }, s.statsEveryMs);
  timer.unref();
  return timer;
}

export function statsLine(stats: RunnerStats, recordsPerSecond: number): string {
  const reading = stats.shards.filter((x) => x.state === 'reading');
  const perShard = reading
    .map(
      (x) => `${x.shardId.slice(-8)}: ${x.records} rec, lag ${x.lagMs === undefined ? '-' : `${x.lagMs} ms`}`,
    )
    .join('; ');
  return (
    `replicate: ${stats.records} records, ${Math.round(recordsPerSecond)}/s, ` +
    `lag ${stats.lagMs === undefined ? '-' : `${stats.lagMs} ms`}, ${reading.length} shard(s) open` +
    (perShard ? ` [${perShard}]` : '')
  );
}

function printSummary(io: CliIO, summary: RunnerSummary, json: boolean): void {
  if (json) {
    io.stdout.write(JSON.stringify({ event: 'stopped', ...summary }) + '\n');
    return;
  }
  io.stdout.write(
    `replicate stopped (${summary.reason}): ${summary.records} records applied, ${summary.skipped} skipped, ` +
      (summary.rejected > 0 ? `${summary.rejected} rejected (see the records-rejected lines), ` : '') +
      `${summary.failedAttempts} failed attempts retried, ${summary.checkpoints} checkpoints in ${(summary.uptimeMs / 1000).toFixed(1)} s\n`,
  );
}

async function serveMetrics(port: number, stats: () => RunnerStats | undefined, io: CliIO): Promise<Server> {
  const server = createServer((req, res) => {
    const current = stats();
    if (req.url?.split('?')[0] !== '/metrics' || !current) {
      res.writeHead(current ? 404 : 503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheusText(current));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new UsageError(`--metrics-port ${port}: ${(error as Error).message}`, { cause: error })),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.unref();
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  io.stderr.write(`metrics on http://127.0.0.1:${actual}/metrics\n`);
  return server;
}
