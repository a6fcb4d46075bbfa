// Scan jobs split into resumable segment tasks: the task API (see tasks.ts for the JSON shapes).
export {
  kindSpec,
  mergeJob,
  nextJobOf,
  planJob,
  runJobChain,
  runSegment,
  runTaskSlice,
  type MergeJobInput,
  type MergeJobOutput,
  type NextJob,
  type PlanJobInput,
  type PlanJobOutput,
  type TaskOptions,
  type TaskRef,
  type TaskSliceInput,
  type TaskSliceOutput,
} from './tasks.js';
export { JobFolder, SegmentBusyError } from './job-folder.js';
export { cachedJobEnvironment } from './environment.js';
export type { JobEnvironment, JobTable } from './kind.js';
export type { JobKind, JobManifest, SegmentState, SliceBudget, Totals } from '../core/scan-job.js';
