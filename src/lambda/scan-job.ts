/**
 * The scan-job Lambda handler: one function for the three steps of a job, chosen by `action`. A
 * Step Functions state machine calls `plan` once, `slice` for each segment (in a Distributed Map,
 * again while `done` is false), then `merge`. Input and output are the task API's JSON
 * (src/jobs/tasks.ts) plus `action`:
 *
 *   { action: 'plan',  work, kind, params, segments, jobId? }  -> PlanJobOutput (tasks: the Map's items)
 *   { action: 'slice', work, jobId, segment, budget? }       -> TaskSliceOutput
 *   { action: 'merge', work, jobId }                          -> MergeJobOutput
 *
 * A slice's time budget is the invocation's remaining time less a margin for the commit (so it
 * stops well inside the 15-minute limit), or `budget.timeMs` when smaller.
 */
import { UsageError } from '../core/errors.js';
import type { SliceBudget } from '../core/scan-job.js';
import { cachedJobEnvironment } from '../jobs/environment.js';
import type { JobEnvironment } from '../jobs/kind.js';
import {
  mergeJob,
  planJob,
  runTaskSlice,
  type MergeJobInput,
  type MergeJobOutput,
  type PlanJobInput,
  type PlanJobOutput,
  type TaskSliceInput,
  type TaskSliceOutput,
} from '../jobs/tasks.js';
import { lazyEntry } from './entry.js';

/** Time kept back from a slice for closing its files and committing its state. */
export const SLICE_COMMIT_MARGIN_MS = 60_000;

export type ScanJobEvent =
  | ({ readonly action: 'plan' } & PlanJobInput)
  | ({ readonly action: 'slice' } & TaskSliceInput)
  | ({ readonly action: 'merge' } & MergeJobInput);

export interface ScanJobContext {
  getRemainingTimeInMillis?(): number;
}

export type ScanJobHandler = (
  event: unknown,
  context?: ScanJobContext,
) => Promise<PlanJobOutput | TaskSliceOutput | MergeJobOutput>;

/**
 * A slice's time budget: the invocation's remaining time less SLICE_COMMIT_MARGIN_MS (at least one
 * second), or `askedMs` when smaller; undefined when neither is known (no limit).
 */
export function sliceTimeMs(
  askedMs: number | undefined,
  context: ScanJobContext | undefined,
): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  const fromContext =
    remaining === undefined ? undefined : Math.max(1_000, remaining - SLICE_COMMIT_MARGIN_MS);
  return askedMs === undefined
    ? fromContext
    : fromContext === undefined
      ? askedMs
      : Math.min(askedMs, fromContext);
}

function sliceBudget(event: TaskSliceInput, context: ScanJobContext | undefined): SliceBudget {
  const timeMs = sliceTimeMs(event.budget?.timeMs, context);
  return { ...event.budget, ...(timeMs !== undefined ? { timeMs } : {}) };
}

/** The handler, with the environment it opens tables and stores through (default: the SDK chain). */
export function createScanJobHandler(env: JobEnvironment = cachedJobEnvironment()): ScanJobHandler {
  return async (event, context) => {
    const e = event as ScanJobEvent | null;
    switch (e?.action) {
      case 'plan':
        return planJob(e, { env });
      case 'slice':
        return runTaskSlice({ ...e, budget: sliceBudget(e, context) }, { env });
      case 'merge':
        return mergeJob(e, { env });
      default:
        throw new UsageError(
          `scan job event: action must be plan, slice or merge, got ${JSON.stringify((event as { action?: unknown } | null)?.action)}`,
        );
    }
  };
}

export const scanJob: ScanJobHandler = lazyEntry(() => createScanJobHandler());
