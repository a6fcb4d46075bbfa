// `diff-tables --work`: the diff as a scan job (loaded by diff-tables.run.ts only with --work);
// with --against-backup, the verify-backup job and its drill-down jobs.
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../../core/errors.js';
import { formatDiffSummary, type DiffSummary } from '../../diff/report.js';
import { REPORT_FILE } from '../../jobs/diff-kind.js';
import { nextJobOf, type MergeJobOutput } from '../../jobs/tasks.js';
import { VERIFY_BACKUP_KIND } from '../../jobs/verify-backup-kind.js';
import { PRIVATE_FILE_MODE } from '../../storage/local-files.js';
import { stringOption, type CliIO, type ParsedArgs } from '../command.js';
import { refuseWithWork, type JobRunOptions } from '../job-options.js';
import { cliJobEnvironment, runJobCommand, runScanJob } from '../scan-job.js';
import { timeOption } from '../time-option.js';

/** Objects of a work store, concatenated (the merged report parts of finished jobs). */
async function readWork(args: ParsedArgs, io: CliIO, work: string, keys: readonly string[]): Promise<Buffer> {
  const env = cliJobEnvironment(args, io);
  try {
    const store = env.openStore(work);
    const parts: Buffer[] = [];
    for (const key of keys) parts.push(await store.get(key));
    return Buffer.concat(parts);
  } finally {
    env.close();
  }
}

/** Each report line as `<kind> <key>`, then the summary of a job's result (which has no timing). */
function jobDiffText(result: Record<string, unknown>, report: Buffer): string {
  const lines = report
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { kind: string; key: unknown })
    .map((d) => `${d.kind.padEnd(10)} ${JSON.stringify(d.key)}\n`);
  const summary = {
    ...(result as unknown as DiffSummary),
    seconds: 0,
    itemsPerSecond: 0,
    settled: 0,
    spilled: 0,
  };
  return lines.join('') + formatDiffSummary(summary).replace(/ in 0\.0 s \(0 items\/s\)/, '');
}

async function writeReport(args: ParsedArgs, report: Buffer): Promise<void> {
  const reportFile = args.values.report;
  if (typeof reportFile === 'string') {
    await writeFile(reportFile, report, { mode: PRIVATE_FILE_MODE }).catch((error: Error) => {
      throw new UsageError(`--report: cannot write ${reportFile}: ${error.message}`, { cause: error });
    });
  }
}

function exitCode(result: unknown): number {
  const total = (result as { discrepancies?: { total?: number } } | undefined)?.discrepancies?.total ?? 0;
  return total > 0 ? 1 : 0;
}

export async function diffJob(args: ParsedArgs, io: CliIO, job: JobRunOptions): Promise<number> {
  if (args.values['against-backup'] === true) return verifyBackupJob(args, io, job);
  refuseWithWork(args, ['backfill', 'settle', 'parallel', 'items-per-second', 'show-items']);
  const [primary, replica] = args.positionals as [string, string];
  const repair = args.values.repair === true;
  const params = { primary, replica, ...(repair ? { repair: true } : {}) };
  let report: Buffer = Buffer.alloc(0);
  const merged = await runJobCommand(
    io,
    args,
    'diff',
    params,
    job,
    (r) => jobDiffText(r, report),
    async (m) => {
      report = await readWork(args, io, job.work, [`${m.jobId}/${REPORT_FILE}`]);
    },
  );
  await writeReport(args, report);
  return exitCode(merged.result);
}

/**
 * `diff-tables <table> <backup> --against-backup --work W`: the verify-backup job (digests of
 * both sides per bucket), then the drill-down jobs its merge names, one after the other; prints
 * and reports like the one-process form.
 */
async function verifyBackupJob(args: ParsedArgs, io: CliIO, job: JobRunOptions): Promise<number> {
  if (args.values.repair === true || args.values.backfill === true)
    throw new UsageError(
      '--against-backup compares a table with a backup: --repair, --backfill and --segment/--segments do not apply',
    );
  refuseWithWork(args, ['settle', 'parallel', 'items-per-second', 'show-items', 'group-metadata']);
  const [table, backup] = args.positionals as [string, string];
  const jobid = stringOption(args, 'jobid');
  const at = timeOption(args, 'at');
  const params = { table, backup, ...(jobid ? { jobid } : {}), ...(at !== undefined ? { at } : {}) };
  let merged: MergeJobOutput = await runScanJob(io, args, VERIFY_BACKUP_KIND, params, job);
  const jobs = [merged.jobId];
  for (;;) {
    const next = nextJobOf(merged);
    if (!next) break;
    merged = await runScanJob(io, args, next.kind, next.params, {
      ...job,
      jobId: next.jobId,
      segments: next.segments,
    });
    jobs.push(merged.jobId);
  }
  const result = (merged.result ?? {}) as Record<string, unknown>;
  const report = await readWork(args, io, job.work, (result.reports as string[] | undefined) ?? []);
  if (args.values.json === true)
    io.stdout.write(
      JSON.stringify({ jobId: jobs[0], kind: VERIFY_BACKUP_KIND, work: job.work, jobs, ...result }) + '\n',
    );
  else io.stdout.write(jobDiffText(result, report));
  await writeReport(args, report);
  return exitCode(result);
}
