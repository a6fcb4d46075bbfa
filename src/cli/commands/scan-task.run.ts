// The `scan-task` command itself, loaded only when it runs (its spec and help are in scan-task.ts).
import { UsageError } from '../../core/errors.js';
import { segmentsOfWorker, type SliceBudget } from '../../core/scan-job.js';
import { JobFolder, SegmentBusyError } from '../../jobs/job-folder.js';
import { runSegment } from '../../jobs/tasks.js';
import { intOption, stringOption, type CliIO, type ParsedArgs } from '../command.js';
import { parseDuration } from '../duration.js';
import { capacityOption } from '../job-options.js';
import { cliJobEnvironment } from '../scan-job.js';

/**
 * Test hook (integration tests only): the process SIGKILLs itself after this many scanned pages, in
 * the middle of a slice, to prove a killed worker's segment is re-run without duplicates.
 */
const KILL_AFTER_PAGES = 'DYNAMODB_REPLICATOR_TEST_KILL_AFTER_PAGES';

function required(args: ParsedArgs, name: string): string {
  const v = stringOption(args, name);
  if (v === undefined) throw new UsageError(`scan-task: --${name} is required`);
  return v;
}

function killHook(io: CliIO): (() => void) | undefined {
  const pages = intOption({ values: { n: io.env[KILL_AFTER_PAGES] }, positionals: [] }, 'n', undefined, {
    min: 1,
  });
  if (pages === undefined) return undefined;
  let seen = 0;
  return () => {
    if (++seen >= pages) process.kill(process.pid, 'SIGKILL');
  };
}

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const work = required(args, 'work');
  const jobId = required(args, 'job');
  const segment = intOption(args, 'segment', undefined, { min: 0 });
  const workers = intOption(args, 'workers', undefined, { min: 1, max: 256 });
  const worker = intOption(args, 'worker', undefined, { min: 0 });
  if ((worker === undefined) !== (workers === undefined))
    throw new UsageError('scan-task: --worker and --workers must be given together');
  if (segment !== undefined && workers !== undefined)
    throw new UsageError('scan-task: give --segment or --worker/--workers, not both');
  if (worker !== undefined && workers !== undefined && worker >= workers)
    throw new UsageError(`scan-task: --worker must be less than --workers (${workers}), got ${worker}`);
  const time = stringOption(args, 'time-budget');
  const items = intOption(args, 'item-budget', undefined, { min: 1 });
  const budget: SliceBudget = {
    ...(time !== undefined ? { timeMs: parseDuration(time, 'time-budget') } : {}),
    ...(items !== undefined ? { items } : {}),
  };
  const capacity = capacityOption(args);
  const env = cliJobEnvironment(args, io);
  try {
    const job = await JobFolder.of(env.openStore(work), jobId).read();
    const segments =
      segment !== undefined ? [segment] : segmentsOfWorker(job.segments, worker ?? 0, workers ?? 1);
    const onPage = killHook(io);
    for (const s of segments) {
      try {
        const out = await runSegment(
          { work, jobId, segment: s, budget, capacity },
          { env, ...(onPage ? { onPage } : {}) },
        );
        io.stdout.write(
          args.values.json
            ? JSON.stringify(out) + '\n'
            : `segment ${s} of job ${jobId} done after ${out.slice} slice${out.slice === 1 ? '' : 's'}\n`,
        );
      } catch (error) {
        if (!(error instanceof SegmentBusyError)) throw error;
        io.stderr.write(`segment ${s}: ${error.message}\n`);
      }
    }
  } finally {
    env.close();
  }
  return 0;
}
