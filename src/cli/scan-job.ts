/**
 * Running a command as a scan job (--work): plan (or resume) the job, run its segment tasks in this
 * process or in N child processes (`scan-task`, the same task code), then merge. Loaded only by the
 * commands' .run modules.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplicatorError } from '../core/errors.js';
import { splitCapacity, type JobKind, type JobManifest, type TaskCapacity } from '../core/scan-job.js';
import { cachedJobEnvironment } from '../jobs/environment.js';
import { mergeJob, planJob, runSegment, type MergeJobOutput } from '../jobs/tasks.js';
import { s3StoreOptions } from './backup-store.js';
import { stringOption, type CliIO, type ParsedArgs } from './command.js';
import { cliClientOptions } from './locations.js';
import type { JobRunOptions } from './job-options.js';

/** The job environment of a CLI process: its network deadlines and S3 endpoint and keys. */
export function cliJobEnvironment(args: ParsedArgs, io: CliIO) {
  return cachedJobEnvironment({ client: cliClientOptions(io), store: { s3: s3StoreOptions(args, io) } });
}

/** This CLI's entry point, for forking workers: dist/cli/main.js, or main.ts under tsx. */
function cliEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const file = path.join(path.dirname(here), `main${ext}`);
  const tsx = ext === '.ts' && !process.execArgv.some((a) => a.includes('tsx')) ? ['--import', 'tsx'] : [];
  return { file, execArgv: [...process.execArgv, ...tsx] };
}

/** Options given on the command line that the workers need; each gets its share of the capacity. */
function passedOptions(args: ParsedArgs, capacity: TaskCapacity): string[] {
  const passed = [
    's3-endpoint',
    'sse-kms-key-id',
    'expected-bucket-owner',
    'time-budget',
    'item-budget',
  ].flatMap((name) => {
    const v = stringOption(args, name);
    return v === undefined ? [] : [`--${name}`, v];
  });
  if (capacity.readUnitsPerSecond !== undefined)
    passed.push('--read-budget', String(capacity.readUnitsPerSecond));
  if (capacity.writeUnitsPerSecond !== undefined)
    passed.push('--write-budget', String(capacity.writeUnitsPerSecond));
  return passed;
}

/** Forks `scan-task` workers; resolves with each worker's exit (code, or the signal that ended it). */
function runWorkers(
  io: CliIO,
  args: ParsedArgs,
  work: string,
  jobId: string,
  workers: number,
  capacity: TaskCapacity,
): Promise<string[]> {
  const { file, execArgv } = cliEntry();
  return Promise.all(
    Array.from(
      { length: workers },
      (_, worker) =>
        new Promise<string>((resolve) => {
          const child = fork(
            file,
            [
              'scan-task',
              '--work',
              work,
              '--job',
              jobId,
              '--worker',
              String(worker),
              '--workers',
              String(workers),
              ...passedOptions(args, splitCapacity(capacity, workers)),
            ],
            { env: { ...process.env, ...io.env }, execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
          );
          child.stderr?.on('data', (c: Buffer) => io.stderr.write(c));
          child.on('error', (error) => resolve(`worker ${worker}: ${error.message}`));
          child.on('exit', (code, signal) =>
            resolve(
              code === 0
                ? ''
                : `worker ${worker} ${signal ? `was killed (${signal})` : `exited with ${code}`}`,
            ),
          );
        }),
    ),
  ).then((r) => r.filter((s) => s !== ''));
}

/**
 * Plans or resumes the job, runs every pending segment (here or in workers), merges. Throws (exit 2)
 * when segments are left unfinished, saying how to resume.
 */
export async function runScanJob(
  io: CliIO,
  args: ParsedArgs,
  kind: JobKind,
  params: JobManifest['params'],
  o: JobRunOptions,
): Promise<MergeJobOutput> {
  const env = cliJobEnvironment(args, io);
  try {
    const plan = await planJob(
      { work: o.work, kind, params, segments: o.segments, ...(o.jobId ? { jobId: o.jobId } : {}) },
      { env },
    );
    io.stderr.write(
      `scan job ${plan.jobId} (${kind}, ${plan.segments} segments) in ${o.work}: ${plan.created ? 'started' : 'resumed'}; resume with --work ${o.work} --job ${plan.jobId}\n`,
    );
    const failures: string[] = [];
    if (o.workers > 0) {
      failures.push(...(await runWorkers(io, args, o.work, plan.jobId, o.workers, o.capacity)));
    } else {
      for (const task of plan.tasks)
        await runSegment({ ...task, budget: o.budget, capacity: o.capacity }, { env });
    }
    const merged = await mergeJob({ work: o.work, jobId: plan.jobId }, { env });
    if (!merged.done)
      throw new ReplicatorError(
        `scan job ${plan.jobId}: segment${merged.pending.length === 1 ? '' : 's'} ${merged.pending.slice(0, 20).join(', ')}${merged.pending.length > 20 ? ', ...' : ''} not done${failures.length ? ` (${failures.join('; ')})` : ''}; run the same command again to resume`,
      );
    return merged;
  } finally {
    env.close();
  }
}

/**
 * A command run as a scan job: runs it, prints the merged result (one JSON object with --json, else
 * `text(result)`), returns the merge output.
 */
export async function runJobCommand(
  io: CliIO,
  args: ParsedArgs,
  kind: JobKind,
  params: JobManifest['params'],
  o: JobRunOptions,
  text: (result: Record<string, unknown>, merged: MergeJobOutput) => string,
  /** Runs after the merge, before anything is printed. */
  before?: (merged: MergeJobOutput) => Promise<void>,
): Promise<MergeJobOutput> {
  const merged = await runScanJob(io, args, kind, params, o);
  await before?.(merged);
  const result = (merged.result ?? {}) as Record<string, unknown>;
  if (args.values.json === true) {
    io.stdout.write(JSON.stringify({ jobId: merged.jobId, kind, work: o.work, ...result }) + '\n');
  } else {
    io.stdout.write(text(result, merged));
  }
  return merged;
}
