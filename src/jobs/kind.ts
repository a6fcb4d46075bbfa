/**
 * What each kind of scan job (backup, copy, diff, restore) provides to the task runner, and the
 * environment the runner gives it: clients and stores opened from the location strings in the job's
 * parameters, so the same job runs from the CLI, a child process or a Lambda.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromDynamoJson, toDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, UsageError } from '../core/errors.js';
import {
  budgetSpent,
  type JobKind,
  type JobManifest,
  type JsonValue,
  type SegmentState,
  type SliceBudget,
  type SliceOutcome,
  type TaskCapacity,
} from '../core/scan-job.js';
import { CapacityBudget } from '../dynamodb/capacity.js';
import type { Item } from '../core/types.js';
import { scanKeyedPages } from '../dynamodb/scan.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { JobFolder } from './job-folder.js';

export interface JobTable {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** The location as the user wrote it, for messages. */
  readonly label: string;
}

/** How a job reaches what its parameters name. The caller owns (and closes) what it opens. */
export interface JobEnvironment {
  openTable(location: string): JobTable;
  openStore(location: string): ObjectStore;
}

export interface SliceContext {
  readonly env: JobEnvironment;
  readonly job: JobManifest;
  readonly folder: JobFolder;
  /** The segment's committed state this slice starts from. */
  readonly state: SegmentState;
  readonly budget: SliceBudget;
  /** Unique per run: names this run's output objects so a dropped run never overwrites a committed one. */
  readonly token: string;
  readonly now: () => number;
  readonly startedAt: number;
  /** Capacity this task may use (none: full speed). */
  readonly capacity: TaskCapacity;
  readonly signal?: AbortSignal;
  /** Called after each scanned page is handled (the CLI's crash-test hook). */
  readonly onPage?: () => void;
}

export interface MergeContext {
  readonly env: JobEnvironment;
  readonly job: JobManifest;
  readonly folder: JobFolder;
  /** The work store holding every job folder (a kind whose jobs chain reads the earlier ones). */
  readonly work: ObjectStore;
  /** Every segment's final state, in segment order. */
  readonly states: readonly SegmentState[];
  readonly now: () => number;
}

/** Where a job is being planned: its work store and its (not yet created) folder. */
export interface PlanPlace {
  readonly work: ObjectStore;
  readonly folder: JobFolder;
}

export interface JobKindSpec {
  readonly kind: JobKind;
  /** Checks the parameters (UsageError naming the problem) before anything is written. */
  checkParams(params: JobManifest['params']): void;
  /** Facts the merge needs that must be taken when the job starts (e.g. the table description). */
  plan?(
    env: JobEnvironment,
    params: JobManifest['params'],
    jobId: string,
    where: PlanPlace,
  ): Promise<{ [name: string]: JsonValue }>;
  runSlice(ctx: SliceContext): Promise<SliceOutcome>;
  /** Builds the job's result from the final states (and writes what the kind's output needs). */
  merge(ctx: MergeContext): Promise<JsonValue>;
}

export function stringParam(params: JobManifest['params'], name: string): string {
  const v = params[name];
  if (typeof v !== 'string' || v === '')
    throw new UsageError(`job parameter "${name}" must be a non-empty string`);
  return v;
}

export function optionalCount(params: JobManifest['params'], name: string, min = 1): number | undefined {
  const v = params[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new UsageError(
      `job parameter "${name}" must be a whole number >= ${min}, got ${JSON.stringify(v)}`,
    );
  return v;
}

/** A scan position as kept in a continuation: the last evaluated key in DynamoDB JSON, or null. */
export function encodeKey(key: Item | undefined): JsonValue {
  return key ? (toDynamoJson(key) as JsonValue) : null;
}

export function decodeKey(v: JsonValue | undefined, where: string): Item | undefined {
  if (v === null || v === undefined) return undefined;
  return fromDynamoJson(v, where);
}

export function continuationField(state: SegmentState, name: string): JsonValue | undefined {
  const c = state.continuation;
  if (c === null) return undefined;
  if (typeof c !== 'object' || Array.isArray(c))
    throw new InvalidDataError(
      `segment ${state.segment} of job ${state.jobId}: continuation is not an object`,
    );
  return c[name];
}

/** A fresh read budget for one table of this slice (undefined: full speed). */
export function readBudget(ctx: Pick<SliceContext, 'capacity'>): CapacityBudget | undefined {
  const units = ctx.capacity.readUnitsPerSecond;
  return units === undefined ? undefined : new CapacityBudget({ unitsPerSecond: units });
}

/** A fresh write budget for the table this slice writes (undefined: full speed). */
export function writeBudget(ctx: Pick<SliceContext, 'capacity'>): CapacityBudget | undefined {
  const units = ctx.capacity.writeUnitsPerSecond;
  return units === undefined ? undefined : new CapacityBudget({ unitsPerSecond: units });
}

/** Where a budgeted scan of one segment stopped: `lastKey` of the last page handed out, or the end. */
export interface ScanPosition {
  lastKey: Item | undefined;
  done: boolean;
  items: number;
}

/**
 * Pages of segment `segment` of `segments` from `startKey`, until the slice's budget is spent or the
 * segment ends. `position` says where the scan stands: it advances past a page only when the
 * consumer asks for the next one (or the scan ends), so a consumer that finishes handling every page
 * it pulled can commit `position` as its continuation.
 */
export function budgetedScan(
  ctx: Pick<
    SliceContext,
    'job' | 'state' | 'budget' | 'now' | 'startedAt' | 'signal' | 'onPage' | 'capacity'
  >,
  table: JobTable,
): { pages: AsyncGenerator<Item[]>; position: ScanPosition } {
  const { job, state } = ctx;
  // The slice's segment of the job, from where its last committed state stopped.
  const o = {
    segment: state.segment,
    segments: job.segments,
    startKey: decodeKey(continuationField(state, 'lastKey'), `${job.jobId} segment ${state.segment} lastKey`),
    pageSize: optionalCount(job.params, 'pageSize'),
  };
  const position: ScanPosition = { lastKey: o.startKey, done: false, items: 0 };
  // Pages no larger than an item budget, so the budget stops a slice where it says.
  const pageSize =
    ctx.budget.items === undefined ? o.pageSize : Math.min(o.pageSize ?? ctx.budget.items, ctx.budget.items);
  const budget = readBudget(ctx);
  async function* pages(): AsyncGenerator<Item[]> {
    const responses = scanKeyedPages(table.client, {
      table: table.table,
      ...(o.segments > 1 ? { segment: o.segment, totalSegments: o.segments } : {}),
      ...(o.startKey ? { startKey: o.startKey } : {}),
      ...(pageSize ? { pageSize } : {}),
      ...(budget ? { budget } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    for await (const page of responses) {
      if (page.items.length > 0) yield page.items;
      ctx.onPage?.();
      position.items += page.items.length;
      position.lastKey = page.lastKey;
      if (!page.lastKey) {
        position.done = true;
        return;
      }
      if (budgetSpent(ctx.budget, ctx.startedAt, ctx.now(), position.items)) return;
    }
  }
  return { pages: pages(), position };
}
