// The options, help lines and option parsing of commands that can run as a resumable scan job
// (--work). Light on purpose: a command loads the job runner (./scan-job.ts, with every store and
// task kind) only when --work is given.
import { UsageError } from '../core/errors.js';
import type { SliceBudget, TaskCapacity } from '../core/scan-job.js';
import { intOption, numberOption, stringOption, type ParsedArgs } from './command.js';
import { parseDuration } from './duration.js';

export const JOB_OPTIONS = {
  work: { type: 'string' },
  job: { type: 'string' },
  workers: { type: 'string' },
  'time-budget': { type: 'string' },
  'item-budget': { type: 'string' },
} as const;

export const JOB_HELP = `Scan job (resumable, several processes; see docs/usage.md "Scan jobs"):
  --work LOC               run as a scan job whose state lives in LOC/<job>/ (s3://bucket/prefix or
                           a directory): segment tasks that stop and resume, then one merge
  --job ID                 the scan job to create or resume (default: a new id, printed on stderr);
                           re-run the same command with the same --work and --job to resume
  --segments M             (with --work) tasks the key space is split into (default 4 x workers)
  --workers N              (with --work) run the tasks in N child processes (default: this process)
  --time-budget D          (with --work) a task stops and commits after D (e.g. 30s, 5m), then
                           resumes where it stopped (default: run each segment to its end)
  --item-budget N          (with --work) ... or after N items (checked per page; default: no limit)
  --read-budget, --write-budget
                           (with --work) the whole job's capacity, split evenly over the workers`;

export interface JobRunOptions {
  readonly work: string;
  readonly jobId: string | undefined;
  readonly segments: number;
  readonly workers: number;
  readonly budget: SliceBudget;
  /** The whole job's capacity (--read-budget, --write-budget), split evenly over the workers. */
  readonly capacity: TaskCapacity;
}

/** --read-budget and --write-budget as a task capacity (units per second). */
export function capacityOption(args: ParsedArgs): TaskCapacity {
  const read = numberOption(args, 'read-budget');
  const write = numberOption(args, 'write-budget');
  return {
    ...(read !== undefined ? { readUnitsPerSecond: read } : {}),
    ...(write !== undefined ? { writeUnitsPerSecond: write } : {}),
  };
}

/** The job options (undefined without --work); UsageError when a job option comes without --work. */
export function jobRunOptions(args: ParsedArgs): JobRunOptions | undefined {
  const work = stringOption(args, 'work');
  const dependent = ['job', 'workers', 'time-budget', 'item-budget'].filter(
    (o) => args.values[o] !== undefined,
  );
  if (work === undefined) {
    if (dependent.length > 0)
      throw new UsageError(`--${dependent[0]} needs --work (where the job's state lives)`);
    return undefined;
  }
  if (args.values.segment !== undefined)
    throw new UsageError('--segment is for one share run by hand; with --work the job runs every segment');
  const workers = intOption(args, 'workers', 0, { min: 1, max: 256 }) as number;
  const segments = intOption(args, 'segments', Math.max(4, workers * 4), {
    min: 1,
    max: 1_000_000,
  }) as number;
  const time = stringOption(args, 'time-budget');
  const items = intOption(args, 'item-budget', undefined, { min: 1 });
  return {
    work,
    jobId: stringOption(args, 'job'),
    segments,
    workers,
    budget: {
      ...(time !== undefined ? { timeMs: parseDuration(time, 'time-budget') } : {}),
      ...(items !== undefined ? { items } : {}),
    },
    capacity: capacityOption(args),
  };
}

/** Refuses options a scan job does not support, naming them (nothing was written). */
export function refuseWithWork(args: ParsedArgs, names: readonly string[]): void {
  const given = names.filter((n) => args.values[n] !== undefined && args.values[n] !== false);
  if (given.length > 0)
    throw new UsageError(
      `--${given.join(', --')} cannot be combined with --work (a scan job); run without --work`,
    );
}
