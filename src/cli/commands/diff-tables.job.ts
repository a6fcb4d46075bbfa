// `diff-tables --work`: the diff as a scan job (loaded by diff-tables.run.ts only with --work).
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../../core/errors.js';
import { formatDiffSummary, type DiffSummary } from '../../diff/report.js';
import { REPORT_FILE } from '../../jobs/diff-kind.js';
import { JobFolder } from '../../jobs/job-folder.js';
import { PRIVATE_FILE_MODE } from '../../storage/local-files.js';
import type { CliIO, ParsedArgs } from '../command.js';
import { refuseWithWork, type JobRunOptions } from '../job-options.js';
import { cliJobEnvironment, runJobCommand } from '../scan-job.js';

/** The merged report (JSON lines) of a finished diff job. */
async function mergedReport(args: ParsedArgs, io: CliIO, work: string, jobId: string): Promise<Buffer> {
  const env = cliJobEnvironment(args, io);
  try {
    return await JobFolder.of(env.openStore(work), jobId).store.get(REPORT_FILE);
  } finally {
    env.close();
  }
}

export async function diffJob(args: ParsedArgs, io: CliIO, job: JobRunOptions): Promise<number> {
  refuseWithWork(args, [
    'backfill',
    'settle',
    'against-backup',
    'parallel',
    'items-per-second',
    'show-items',
  ]);
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
    (r) => {
      const lines = report
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { kind: string; key: unknown })
        .map((d) => `${d.kind.padEnd(10)} ${JSON.stringify(d.key)}\n`);
      const summary = {
        ...(r as unknown as DiffSummary),
        seconds: 0,
        itemsPerSecond: 0,
        settled: 0,
        spilled: 0,
      };
      return lines.join('') + formatDiffSummary(summary).replace(/ in 0\.0 s \(0 items\/s\)/, '');
    },
    async (m) => {
      report = await mergedReport(args, io, job.work, m.jobId);
    },
  );
  const reportFile = args.values.report;
  if (typeof reportFile === 'string') {
    await writeFile(reportFile, report, { mode: PRIVATE_FILE_MODE }).catch((error: Error) => {
      throw new UsageError(`--report: cannot write ${reportFile}: ${error.message}`, { cause: error });
    });
  }
  const total =
    (merged.result as { discrepancies?: { total?: number } } | undefined)?.discrepancies?.total ?? 0;
  return total > 0 ? 1 : 0;
}
