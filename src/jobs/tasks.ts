/**
 * The scan-job task API: plan a job, run one slice of one segment task, run a segment to its end,
 * merge. The same functions run in one process, in `--workers N` child processes and in a Lambda
 * behind a Step Functions Distributed Map; all state lives in the job folder (see job-folder.ts).
 *
 * JSON shapes (what a Lambda or a child process passes; every field is plain JSON):
 *
 *   planJob     in:  { work, kind, params, segments, jobId? }        (PlanJobInput)
 *               out: { work, jobId, kind, segments, created, tasks: [{ work, jobId, segment }, ...] }
 *   runTaskSlice in: { work, jobId, segment, budget?: { timeMs?, items? },
 *                      capacity?: { readUnitsPerSecond?, writeUnitsPerSecond? } }   (TaskSliceInput)
 *               out: { work, jobId, segment, done, slice, totals }   (TaskSliceOutput)
 *                    done false: call again with the same input (it resumes at the continuation).
 *                    SegmentBusyError: another run holds the segment; retry later.
 *   mergeJob    in:  { work, jobId }                                 (MergeJobInput)
 *               out: { work, jobId, kind, done, pending, totals, result? }  (MergeJobOutput)
 *                    done false (pending segments listed) writes nothing; done true writes the
 *                    kind's output (backup manifests) and `result.json` in the job folder.
 *
 * `work` is an object store location (`s3://bucket/prefix` or a directory); the job folder is
 * `<work>/<jobId>/`.
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../core/errors.js';
import {
  advance,
  assertJobIdText,
  JOB_FORMAT,
  MAX_JOB_SEGMENTS,
  mergeTotals,
  pendingSegments,
  type JobKind,
  type JobManifest,
  type JsonValue,
  type SliceBudget,
  type SliceOutcome,
  type TaskCapacity,
  type Totals,
  validateCapacity,
  validateSliceBudget,
} from '../core/scan-job.js';
import { newJobId } from '../backup/full-backup.js';
import { assertSameJob, JobFolder, newOwner, type Claim } from './job-folder.js';
import type { JobEnvironment, JobKindSpec } from './kind.js';
import { backupKind } from './backup-kind.js';
import { copyKind } from './copy-kind.js';
import { diffKind } from './diff-kind.js';
import { restoreKind } from './restore-kind.js';
import { verifyBackupKind } from './verify-backup-kind.js';

const KINDS: Record<JobKind, JobKindSpec> = {
  backup: backupKind,
  copy: copyKind,
  diff: diffKind,
  restore: restoreKind,
  'verify-backup': verifyBackupKind,
};

/** A slice's claim lasts its time budget plus this margin (default budget: 15 minutes). */
const CLAIM_MARGIN_MS = 60_000;
const DEFAULT_CLAIM_MS = 15 * 60_000;

export interface PlanJobInput {
  readonly work: string;
  readonly kind: JobKind;
  readonly params: JobManifest['params'];
  readonly segments: number;
  /** Resume (or create under) this id; a new one when absent. */
  readonly jobId?: string;
}

export interface TaskRef {
  readonly work: string;
  readonly jobId: string;
  readonly segment: number;
}

export interface PlanJobOutput {
  readonly work: string;
  readonly jobId: string;
  readonly kind: JobKind;
  readonly segments: number;
  /** False when the job folder already held this job (a resume). */
  readonly created: boolean;
  /** One entry per segment: the input of runTaskSlice (a Distributed Map's items). */
  readonly tasks: readonly TaskRef[];
}

export interface TaskSliceInput extends TaskRef {
  /** When the slice stops (default: at the segment's end). */
  readonly budget?: SliceBudget;
  /** Capacity this task may use, e.g. a job's budget split over the tasks running at once. */
  readonly capacity?: TaskCapacity;
}

export interface TaskSliceOutput extends TaskRef {
  readonly done: boolean;
  /** Slices committed for this segment so far. */
  readonly slice: number;
  /** The segment's counts so far. */
  readonly totals: Totals;
}

export interface MergeJobInput {
  readonly work: string;
  readonly jobId: string;
}

export interface MergeJobOutput {
  readonly work: string;
  readonly jobId: string;
  readonly kind: JobKind;
  readonly done: boolean;
  /** Segments without a final state (the merge wrote nothing when any is listed). */
  readonly pending: readonly number[];
  readonly totals: Totals;
  /** The kind's result (backup: location and item count; copy: items; diff: counts...). */
  readonly result?: JsonValue;
}

/** Options every call takes besides its JSON input. */
export interface TaskOptions {
  readonly env: JobEnvironment;
  readonly signal?: AbortSignal;
  /** Clock for budgets and claims (default Date.now). */
  readonly now?: () => number;
  /** This run's identity in claims (default: host, pid and a random part). */
  readonly owner?: Pick<Claim, 'owner' | 'host' | 'pid'>;
  /** Called after each scanned page is handled (backup and copy slices): a crash-test hook. */
  readonly onPage?: () => void;
}

export function kindSpec(kind: JobKind): JobKindSpec {
  const spec = (KINDS as Partial<Record<string, JobKindSpec>>)[kind];
  if (!spec) throw new UsageError(`scan jobs of kind "${kind}" are not supported`);
  return spec;
}

function checkSegments(segments: number): void {
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_JOB_SEGMENTS)
    throw new UsageError(`--segments must be a whole number from 1 to ${MAX_JOB_SEGMENTS}, got ${segments}`);
}

/**
 * Creates the job folder (job.json) or, when it already holds the same job, resumes it. A folder
 * holding another job (other kind, tables, stores or segment count) is a UsageError (exit 2).
 */
export async function planJob(input: PlanJobInput, o: TaskOptions): Promise<PlanJobOutput> {
  const spec = kindSpec(input.kind);
  spec.checkParams(input.params);
  checkSegments(input.segments);
  const jobId = input.jobId ?? newJobId();
  assertJobIdText(jobId, '--jobid');
  const work = o.env.openStore(input.work);
  const folder = JobFolder.of(work, jobId);
  const wanted = { kind: input.kind, params: input.params, segments: input.segments };
  let job: JobManifest;
  let created = false;
  if (await folder.store.exists('job.json')) {
    job = await folder.read();
    assertSameJob(job, wanted, folder.label);
  } else {
    const facts = (await spec.plan?.(o.env, input.params, jobId, { work, folder })) ?? {};
    const fresh: JobManifest = {
      format: JOB_FORMAT,
      version: 1,
      jobId,
      ...wanted,
      createdAt: (o.now ?? Date.now)(),
      facts,
    };
    ({ job, created } = await folder.create(fresh));
    if (!created) assertSameJob(job, wanted, folder.label);
  }
  return {
    work: input.work,
    jobId,
    kind: job.kind,
    segments: job.segments,
    created,
    tasks: Array.from({ length: job.segments }, (_, segment) => ({ work: input.work, jobId, segment })),
  };
}

async function openJob(input: { work: string; jobId: string }, o: TaskOptions) {
  assertJobIdText(input.jobId, '--jobid');
  const work = o.env.openStore(input.work);
  const folder = JobFolder.of(work, input.jobId);
  const job = await folder.read();
  return { work, folder, job, spec: kindSpec(job.kind) };
}

/**
 * Runs one slice of one segment task: from the segment's last committed state until the budget is
 * spent or the segment ends, then commits the new state. A done segment returns at once.
 */
export async function runTaskSlice(input: TaskSliceInput, o: TaskOptions): Promise<TaskSliceOutput> {
  const { folder, job, spec } = await openJob(input, o);
  if (!Number.isInteger(input.segment) || input.segment < 0 || input.segment >= job.segments)
    throw new UsageError(
      `segment ${input.segment} is not one of job ${job.jobId}'s ${job.segments} (0 to ${job.segments - 1})`,
    );
  const now = o.now ?? Date.now;
  const where = `segment ${input.segment} of job ${job.jobId}`;
  const budget = validateSliceBudget(input.budget, where);
  const capacity = validateCapacity(input.capacity, where);
  const state = await folder.state(job, input.segment);
  const out = { work: input.work, jobId: job.jobId, segment: input.segment };
  if (state.done) return { ...out, done: true, slice: state.slice, totals: state.totals };
  const startedAt = now();
  const leaseMs = (budget.timeMs ?? DEFAULT_CLAIM_MS) + CLAIM_MARGIN_MS;
  const owner = o.owner ?? newOwner();
  await folder.claim(state, owner, leaseMs, startedAt);
  let outcome: SliceOutcome;
  try {
    outcome = await spec.runSlice({
      env: o.env,
      job,
      folder,
      state,
      budget,
      token: randomBytes(4).toString('hex'),
      now,
      startedAt,
      capacity,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onPage ? { onPage: o.onPage } : {}),
    });
  } catch (error) {
    await folder.release(state, owner);
    throw error;
  }
  const next = advance(state, outcome);
  await folder.commit(next);
  return { ...out, done: next.done, slice: next.slice, totals: next.totals };
}

/** Runs slices of one segment until it is done (what a local worker does per segment). */
export async function runSegment(input: TaskSliceInput, o: TaskOptions): Promise<TaskSliceOutput> {
  for (;;) {
    o.signal?.throwIfAborted();
    const out = await runTaskSlice(input, o);
    if (out.done) return out;
  }
}

/** Merges a job whose segments are all done; lists the pending ones otherwise (writing nothing). */
export async function mergeJob(input: MergeJobInput, o: TaskOptions): Promise<MergeJobOutput> {
  const { work, folder, job, spec } = await openJob(input, o);
  const states = await folder.states(job);
  const pending = pendingSegments(job.segments, states);
  const totals = mergeTotals(states.values());
  const out = { work: input.work, jobId: job.jobId, kind: job.kind, pending, totals };
  if (pending.length > 0) return { ...out, done: false };
  const result = await spec.merge({
    env: o.env,
    job,
    folder,
    work,
    states: [...states.values()],
    now: o.now ?? Date.now,
  });
  await folder.writeResult({ jobId: job.jobId, kind: job.kind, totals, result });
  return { ...out, done: true, result };
}

/** A merge result's next job (a verify-backup check's drill-down): run it to finish the work. */
export interface NextJob {
  readonly kind: JobKind;
  readonly jobId: string;
  readonly params: JobManifest['params'];
  readonly segments: number;
}

/** The next job a merge result names, if any. */
export function nextJobOf(merged: MergeJobOutput): NextJob | undefined {
  const next = (merged.result as { next?: NextJob } | null | undefined)?.next;
  return next ?? undefined;
}

/**
 * Runs a job in this process — plan, every segment (slice after slice, each within `budget`), merge
 * — then every job its merge names as `next`, until a merge names none. Returns each job's merge
 * output in order: the last one holds the whole result. Re-running it resumes where it stopped.
 *
 * @example
 * const merged = await runJobChain(
 *   { work: 's3://my-jobs/verify', kind: 'verify-backup', segments: 16,
 *     params: { table: 'us-east-1/users', backup: 's3://my-backups/users' } },
 *   { env: cachedJobEnvironment() },
 * );
 * console.log(merged.at(-1)?.result);
 */
export async function runJobChain(
  input: PlanJobInput & { readonly budget?: SliceBudget; readonly capacity?: TaskCapacity },
  o: TaskOptions,
): Promise<MergeJobOutput[]> {
  const outputs: MergeJobOutput[] = [];
  let job: PlanJobInput = input;
  for (;;) {
    const plan = await planJob(job, o);
    for (const task of plan.tasks)
      await runSegment(
        {
          ...task,
          ...(input.budget ? { budget: input.budget } : {}),
          ...(input.capacity ? { capacity: input.capacity } : {}),
        },
        o,
      );
    const merged = await mergeJob({ work: input.work, jobId: plan.jobId }, o);
    outputs.push(merged);
    const next = nextJobOf(merged);
    if (!next) return outputs;
    job = { work: input.work, ...next };
  }
}
