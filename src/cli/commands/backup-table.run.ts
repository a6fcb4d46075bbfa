// The `backup-table` command itself, loaded only when it runs (its spec and help are in backup-table.ts).
import { backupTable } from '../../backup/full-backup.js';
import { backupTableNative } from '../../backup/native-backup.js';
import { formatTime } from '../../core/time.js';
import { parseDuration } from '../duration.js';
import { timeOption } from '../time-option.js';
import { intOption, stringOption, writeJson } from '../command.js';
import { readBudgetOption } from '../budgets.js';
import { openBackupStore } from '../backup-store.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { UsageError } from '../../core/errors.js';
import { LeaseHeldError } from '../../storage/object-lease.js';
import type { CliIO, ParsedArgs } from '../command.js';
import { jobRunOptions, refuseWithWork, type JobRunOptions } from '../job-options.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  if (args.values.native === true) return runNative(args, io);
  for (const option of ['incremental', 'from', 'to', 'export-timeout'])
    if (args.values[option] !== undefined) throw new UsageError(`backup-table: --${option} needs --native`);
  const job = jobRunOptions(args);
  if (job) return runBackupJob(args, io, job);
  const segments = intOption(args, 'segments', 1, { min: 1, max: 1_000_000 }) as number;
  const segment = intOption(args, 'segment', undefined, { min: 0 });
  if (segments > 1 && segment === undefined)
    throw new UsageError('backup-table: --segments needs --segment N (this process’s share, 0-based)');
  if (segment !== undefined && segment >= segments)
    throw new UsageError(
      `backup-table: --segment must be less than --segments (${segments}), got ${segment}`,
    );
  const parallel = intOption(args, 'parallel', 4, { min: 1, max: 1000 }) as number;
  const itemsPerFile = intOption(args, 'items-per-file', undefined, { min: 1 });
  const jobId = stringOption(args, 'jobid');
  const readBudget = readBudgetOption(args);
  const source = openTable(args.positionals[0] as string, io);
  const target = openBackupStore(args.positionals[1] as string, args, io);
  const sseKmsKeyId = stringOption(args, 'sse-kms-key-id');
  const started = performance.now();
  const result = await closing([source.client, target], async () => {
    const progress = progressReporter(io, `backup of ${source.label}`);
    return backupTable(source.client, target.store, {
      table: source.table,
      ...(jobId ? { jobId } : {}),
      ...(segment !== undefined ? { segment, totalSegments: segments } : {}),
      parallel,
      ...(itemsPerFile ? { maxItemsPerFile: itemsPerFile } : {}),
      ...(readBudget ? { budget: readBudget } : {}),
      ...(args.values['consistent-read'] === true ? { consistentRead: true } : {}),
      ...(sseKmsKeyId ? { sseKmsKeyId } : {}),
      onProgress: (n) => progress.update(n),
    }).finally(() => progress.done());
  });
  const seconds = (performance.now() - started) / 1000;
  const complete = result.missingSegments.length === 0;
  if (args.values.json === true) {
    writeJson(io, {
      source: source.label,
      location: result.location,
      jobId: result.jobId,
      segment: result.segment,
      segments: result.totalSegments,
      items: result.itemCount,
      files: result.files,
      complete,
      ...(result.summary ? { totalItems: result.summary.itemCount } : {}),
      missingSegments: result.missingSegments,
      seconds,
    });
    return 0;
  }
  const share = result.totalSegments > 1 ? ` (segment ${result.segment} of ${result.totalSegments})` : '';
  io.stdout.write(
    `backed up ${result.itemCount} items${share} of ${source.label} to ${result.location} in ${result.files} data file${result.files === 1 ? '' : 's'} in ${seconds.toFixed(1)} s\n`,
  );
  io.stdout.write(
    complete
      ? `backup job ${result.jobId} is complete${result.summary ? `: ${result.summary.itemCount} items` : ''}\n`
      : `backup job ${result.jobId} waits for segment${result.missingSegments.length === 1 ? '' : 's'} ${result.missingSegments.join(', ')}\n`,
  );
  return 0;
}

/** Scan-only options that make no sense with --native (DynamoDB reads the table itself). */
const SCAN_ONLY = [
  'jobid',
  'segment',
  'segments',
  'parallel',
  'items-per-file',
  'read-budget',
  'consistent-read',
  'work',
  'workers',
];

/** `--native`: a DynamoDB export to S3, waited for, verified and indexed (backup/native-backup.ts). */
async function runNative(args: ParsedArgs, io: CliIO): Promise<number> {
  for (const option of SCAN_ONLY)
    if (args.values[option] !== undefined)
      throw new UsageError(`backup-table: --${option} is for scan backups; --native exports use no scan`);
  const incremental = args.values.incremental === true;
  const from = timeOption(args, 'from');
  const to = timeOption(args, 'to');
  if (!incremental && (from !== undefined || to !== undefined))
    throw new UsageError('backup-table: --from and --to need --incremental');
  const timeoutText = stringOption(args, 'export-timeout');
  const timeoutMs = timeoutText === undefined ? undefined : parseDuration(timeoutText, 'export-timeout');
  const sseKmsKeyId = stringOption(args, 'sse-kms-key-id');
  const bucketOwner = stringOption(args, 'expected-bucket-owner');
  const target = openBackupStore(args.positionals[1] as string, args, io);
  const source = openTable(args.positionals[0] as string, io);
  const started = performance.now();
  const result = await closing([source.client, target], () =>
    backupTableNative(source.client, target.store, {
      table: source.table,
      ...(incremental
        ? { incremental: { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) } }
        : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(sseKmsKeyId ? { sseKmsKeyId } : {}),
      ...(bucketOwner ? { bucketOwner } : {}),
      onPoll: (state) => {
        if (io.stderr.isTTY) io.stderr.write(`export ${state.arn} still running\n`);
      },
    }),
  ).catch((error: unknown) => {
    // Another incremental run holds the log's lease: this run ends without exporting anything.
    if (error instanceof LeaseHeldError) return error;
    throw error;
  });
  if (result instanceof LeaseHeldError) {
    io.stderr.write(`${result.message}\n`);
    if (args.values.json === true)
      writeJson(io, {
        source: source.label,
        skipped: true,
        run: result.holder.run,
        since: new Date(result.holder.since).toISOString(),
      });
    return 2;
  }
  const seconds = (performance.now() - started) / 1000;
  if (args.values.json === true) {
    writeJson(io, {
      source: source.label,
      location: result.location,
      kind: result.kind,
      exportArn: result.exportArn,
      exportId: result.exportId,
      items: result.itemCount,
      ...(result.snapshot ? { snapshot: result.snapshot.id, exportTime: result.snapshot.completedAt } : {}),
      ...(result.window ? { from: result.window.from, to: result.window.to } : {}),
      seconds,
    });
    return 0;
  }
  const what = result.window
    ? `incremental export of ${source.label} (${formatTime(result.window.from)} – ${formatTime(result.window.to)}): ${result.itemCount} changed item${result.itemCount === 1 ? '' : 's'}`
    : `full export of ${source.label} at ${formatTime(result.snapshot?.completedAt ?? 0)}: ${result.itemCount} item${result.itemCount === 1 ? '' : 's'}, base snapshot ${result.snapshot?.id ?? ''}`;
  io.stdout.write(
    `${what}\nverified and indexed ${result.location} (${result.exportArn}) in ${seconds.toFixed(1)} s\n`,
  );
  return 0;
}

/** `--work`: the backup as a scan job; its id is the backup's id (`--job`, or `--jobid`). */
async function runBackupJob(args: ParsedArgs, io: CliIO, job: JobRunOptions): Promise<number> {
  refuseWithWork(args, ['consistent-read', 'parallel']);
  const backupId = stringOption(args, 'jobid');
  if (backupId && job.jobId && backupId !== job.jobId)
    throw new UsageError(
      `backup-table: --jobid ${backupId} and --job ${job.jobId} differ; the backup's id is the job's id`,
    );
  const itemsPerFile = intOption(args, 'items-per-file', undefined, { min: 1 });
  const params = {
    table: args.positionals[0] as string,
    backup: args.positionals[1] as string,
    ...(itemsPerFile ? { maxItemsPerFile: itemsPerFile } : {}),
  };
  const { runJobCommand } = await import('../scan-job.js');
  await runJobCommand(
    io,
    args,
    'backup',
    params,
    { ...job, jobId: job.jobId ?? backupId },
    (r, m) =>
      `backed up ${String(r.itemCount)} items of ${params.table} to ${String(r.location)} in ${String(r.files)} data files (scan job ${m.jobId}); backup job ${m.jobId} is complete\n`,
  );
  return 0;
}
