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
 *
 * The merge that ends a verify-backup check (its last phase: a result without `next`) publishes the
 * verify function's metrics for a backup check as EMF: `Discrepancies` and `VerifiedAt` (epoch
 * seconds) with the dimensions SourceTable and BackupLocation (the job's `labels.sourceTable` and
 * `labels.backupLocation`, by default the table's name and the backup location), in the namespace
 * of the MetricsNamespace variable. So the verify schedule's alarms watch a check run as a job.
 * Likewise the merge of a scheduled replica check, a `diff` job whose `labels` name a
 * `replicaTable`: the dimensions SourceTable (`labels.sourceTable`, by default the primary's table
 * name) and ReplicaTable (`labels.replicaTable`), as the verify function reports a replica. A diff
 * job without those labels (one run by hand) publishes nothing.
 */
import { parseTableLocation } from '../core/location.js';
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
import { diffKind } from '../jobs/diff-kind.js';
import { VERIFY_BACKUP_KIND } from '../jobs/verify-backup-kind.js';
import { envValue } from './config.js';
import { lazyEntry } from './entry.js';
import { DIMENSION, type MetricsWriter, stdoutMetrics, verifyCheckLine } from './metrics.js';

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

export interface ScanJobDeps {
  /** Where EMF lines go (default stdout, the function's log group). */
  readonly metrics?: MetricsWriter;
  readonly metricsNamespace?: string;
  readonly now?: () => number;
}

/** The result of a verify-backup job's last phase or a diff job, as far as its metrics need it. */
interface VerifyResult {
  readonly table?: string;
  readonly backup?: string;
  readonly primary?: string;
  readonly next?: unknown;
  readonly labels?: {
    readonly sourceTable?: unknown;
    readonly backupLocation?: unknown;
    readonly replicaTable?: unknown;
  };
  readonly discrepancies?: { readonly total?: number };
}

const label = (v: unknown, fallback: () => string) => (typeof v === 'string' && v !== '' ? v : fallback());

/** The check a finished merge completes, as its metric dimensions; undefined for any other merge. */
function checkDimensions(out: MergeJobOutput, r: VerifyResult): Record<string, string> | undefined {
  if (out.kind === VERIFY_BACKUP_KIND && r.next === undefined)
    return {
      [DIMENSION.sourceTable]: label(r.labels?.sourceTable, () => parseTableLocation(String(r.table)).table),
      [DIMENSION.backupLocation]: label(r.labels?.backupLocation, () => String(r.backup)),
    };
  const replica = r.labels?.replicaTable;
  if (out.kind === diffKind.kind && typeof replica === 'string' && replica !== '')
    return {
      [DIMENSION.sourceTable]: label(
        r.labels?.sourceTable,
        () => parseTableLocation(String(r.primary)).table,
      ),
      [DIMENSION.replicaTable]: replica,
    };
  return undefined;
}

/** Discrepancies and VerifiedAt of a finished scheduled check (nothing for any other merge). */
function publishVerifyMetrics(out: MergeJobOutput, deps: ScanJobDeps): void {
  const r = out.result as VerifyResult | undefined;
  const dimensions = out.done && r ? checkDimensions(out, r) : undefined;
  if (!r || !dimensions) return;
  const now = (deps.now ?? Date.now)();
  (deps.metrics ?? stdoutMetrics)(
    verifyCheckLine(deps.metricsNamespace, dimensions, r.discrepancies?.total ?? 0, now),
  );
}

/**
 * The handler, with the environment it opens tables and stores through (default: the SDK chain)
 * and where a verify-backup check's metrics go.
 */
export function createScanJobHandler(
  env: JobEnvironment = cachedJobEnvironment(),
  deps: ScanJobDeps = {},
): ScanJobHandler {
  return async (event, context) => {
    const e = event as ScanJobEvent | null;
    switch (e?.action) {
      case 'plan':
        return planJob(e, { env });
      case 'slice':
        return runTaskSlice({ ...e, budget: sliceBudget(e, context) }, { env });
      case 'merge': {
        const out = await mergeJob(e, { env });
        publishVerifyMetrics(out, deps);
        return out;
      }
      default:
        throw new UsageError(
          `scan job event: action must be plan, slice or merge, got ${JSON.stringify((event as { action?: unknown } | null)?.action)}`,
        );
    }
  };
}

export const scanJob: ScanJobHandler = lazyEntry(() => {
  const namespace = envValue(process.env, 'MetricsNamespace');
  return createScanJobHandler(cachedJobEnvironment(), namespace ? { metricsNamespace: namespace } : {});
});
