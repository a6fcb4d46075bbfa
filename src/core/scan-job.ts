/**
 * The pure model of a scan job split into resumable segment tasks: the job manifest, each segment's
 * committed state, the transition a slice makes, and the merge of counts. No I/O here: the engine
 * (src/jobs/) reads and writes these records through an object store.
 *
 * A job has `segments` tasks. Task s runs in slices; each slice starts from the segment's last
 * committed state (its continuation), stops at a budget, and commits a new state numbered
 * `slice + 1`. A state with `done: true` is final. The merge reads every segment's final state and
 * adds their totals, so the merged result depends only on committed states, never on how many
 * slices, workers or retries it took.
 */
import { InvalidDataError } from './errors.js';

export const JOB_FORMAT = 'dynamodb-replicator/scan-job';
export const SEGMENT_STATE_FORMAT = 'dynamodb-replicator/scan-segment';

export const JOB_KINDS = ['backup', 'copy', 'diff', 'restore', 'verify-backup'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Plain JSON (what job records hold; exact numbers travel as strings inside DynamoDB JSON). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [name: string]: JsonValue };

/** Named counters of a segment or a job (items scanned, written, discrepancies by kind...). */
export type Totals = Readonly<Record<string, number>>;

/** `job.json` of a job folder: what the job does, over how many segments. Written once. */
export interface JobManifest {
  readonly format: typeof JOB_FORMAT;
  readonly version: 1;
  readonly jobId: string;
  readonly kind: JobKind;
  /** Kind-specific parameters (table and store locations, page size...), validated by the kind. */
  readonly params: { readonly [name: string]: JsonValue };
  readonly segments: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** What planning found out (e.g. the table's description), kept for the merge; not compared. */
  readonly facts?: { readonly [name: string]: JsonValue };
}

/** One committed state of one segment: `segments/<s>/state-<slice>.json`. */
export interface SegmentState {
  readonly format: typeof SEGMENT_STATE_FORMAT;
  readonly version: 1;
  readonly jobId: string;
  readonly segment: number;
  /** Slices committed so far (0: nothing done yet; the initial state is never written). */
  readonly slice: number;
  readonly done: boolean;
  /** Where the next slice starts (kind-specific, e.g. a scan's last evaluated key); null when done. */
  readonly continuation: JsonValue;
  readonly totals: Totals;
  /** What the slices wrote that the merge must reference (e.g. backup data files), in order. */
  readonly outputs: readonly JsonValue[];
}

/** What one slice did: its counts, its new outputs, and where the next slice starts (null: done). */
export interface SliceOutcome {
  readonly continuation: JsonValue;
  readonly done: boolean;
  readonly totals: Totals;
  readonly outputs: readonly JsonValue[];
}

/** When a slice stops: after `timeMs` of work or `items` items, whichever comes first (checked per page). */
export interface SliceBudget {
  readonly timeMs?: number;
  readonly items?: number;
}

/**
 * Capacity one task may use, in units per second (measured from the ConsumedCapacity DynamoDB
 * returns): reads on each table it scans or re-reads, writes on the table it writes. A job's budget
 * is split across the tasks that run at once (splitCapacity).
 */
export interface TaskCapacity {
  readonly readUnitsPerSecond?: number;
  readonly writeUnitsPerSecond?: number;
}

/** One task's share of a job's capacity when `concurrent` tasks run at once. */
export function splitCapacity(capacity: TaskCapacity, concurrent: number): TaskCapacity {
  const n = Math.max(1, Math.floor(concurrent));
  return {
    ...(capacity.readUnitsPerSecond !== undefined
      ? { readUnitsPerSecond: capacity.readUnitsPerSecond / n }
      : {}),
    ...(capacity.writeUnitsPerSecond !== undefined
      ? { writeUnitsPerSecond: capacity.writeUnitsPerSecond / n }
      : {}),
  };
}

/**
 * Checks a slice budget given as JSON (a Lambda event): `timeMs` and `items` positive numbers or
 * absent, nothing else (capacity has its own field, so a misplaced one is not silently ignored).
 */
export function validateSliceBudget(v: unknown, where: string): SliceBudget {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new InvalidDataError(`${where}: budget must be an object`);
  for (const [name, n] of Object.entries(v)) {
    if (name !== 'timeMs' && name !== 'items')
      throw new InvalidDataError(
        `${where}: budget.${name} is not a slice budget (timeMs, items)${/UnitsPerSecond$/.test(name) ? '; capacity goes in "capacity"' : ''}`,
      );
    if (!(typeof n === 'number' && Number.isFinite(n) && n > 0))
      throw new InvalidDataError(
        `${where}: budget.${name} must be a positive number, got ${JSON.stringify(n)}`,
      );
  }
  return v as SliceBudget;
}

/** Checks a capacity given as JSON (a Lambda event): positive finite numbers or absent. */
export function validateCapacity(v: unknown, where: string): TaskCapacity {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new InvalidDataError(`${where}: capacity must be an object`);
  for (const name of ['readUnitsPerSecond', 'writeUnitsPerSecond']) {
    const n = v[name];
    if (n !== undefined && !(typeof n === 'number' && Number.isFinite(n) && n > 0))
      throw new InvalidDataError(
        `${where}: capacity.${name} must be a positive number, got ${JSON.stringify(n)}`,
      );
  }
  return v as TaskCapacity;
}

const JOB_ID = /^[A-Za-z0-9._-]{1,128}$/;
export const MAX_JOB_SEGMENTS = 1_000_000;

export function initialState(jobId: string, segment: number): SegmentState {
  return {
    format: SEGMENT_STATE_FORMAT,
    version: 1,
    jobId,
    segment,
    slice: 0,
    done: false,
    continuation: null,
    totals: {},
    outputs: [],
  };
}

/** Adds counters by name. */
export function addTotals(a: Totals, b: Totals): Totals {
  const sum: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [k, v] of Object.entries(a)) sum[k] = v;
  for (const [k, v] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + v;
  return { ...sum };
}

/** The state after a slice: one slice later, its counts added, its outputs appended. */
export function advance(prev: SegmentState, outcome: SliceOutcome): SegmentState {
  if (prev.done) throw new InvalidDataError(`segment ${prev.segment} of job ${prev.jobId} is already done`);
  return {
    ...prev,
    slice: prev.slice + 1,
    done: outcome.done,
    continuation: outcome.done ? null : outcome.continuation,
    totals: addTotals(prev.totals, outcome.totals),
    outputs: [...prev.outputs, ...outcome.outputs],
  };
}

/** Segment numbers of a job that have no final state among `states` (ascending). */
export function pendingSegments(segments: number, states: ReadonlyMap<number, SegmentState>): number[] {
  const pending: number[] = [];
  for (let s = 0; s < segments; s++) if (!states.get(s)?.done) pending.push(s);
  return pending;
}

/** Totals over every segment, in segment order (addition is exact for counts below 2^53). */
export function mergeTotals(states: Iterable<SegmentState>): Totals {
  let sum: Totals = {};
  for (const s of states) sum = addTotals(sum, s.totals);
  return sum;
}

/** Segments `worker`, `worker + workers`, ... of a job: one worker's share, each segment to one worker. */
export function segmentsOfWorker(segments: number, worker: number, workers: number): number[] {
  const mine: number[] = [];
  for (let s = worker; s < segments; s += workers) mine.push(s);
  return mine;
}

/** Whether a slice that started at `startedAt` and handled `items` must stop now. */
export function budgetSpent(budget: SliceBudget, startedAt: number, now: number, items: number): boolean {
  return (
    (budget.items !== undefined && items >= budget.items) ||
    (budget.timeMs !== undefined && now - startedAt >= budget.timeMs)
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function assertJobIdText(jobId: string, where = 'job id'): void {
  if (!JOB_ID.test(jobId))
    throw new InvalidDataError(
      `${where} "${jobId}" is not valid: use 1-128 letters, digits, '.', '_' or '-'`,
    );
}

/** Checks a parsed `job.json` (InvalidDataError naming `where` and the problem). */
export function validateJobManifest(v: unknown, where: string): JobManifest {
  if (!isRecord(v) || v.format !== JOB_FORMAT || v.version !== 1)
    throw new InvalidDataError(`${where} is not a ${JOB_FORMAT} record (version 1)`);
  if (typeof v.jobId !== 'string') throw new InvalidDataError(`${where}: jobId is missing`);
  assertJobIdText(v.jobId, `${where}: jobId`);
  if (typeof v.kind !== 'string' || !(JOB_KINDS as readonly string[]).includes(v.kind))
    throw new InvalidDataError(`${where}: kind "${String(v.kind)}" is not one of ${JOB_KINDS.join(', ')}`);
  if (!isCount(v.segments) || v.segments < 1 || v.segments > MAX_JOB_SEGMENTS)
    throw new InvalidDataError(
      `${where}: segments must be 1 to ${MAX_JOB_SEGMENTS}, got ${String(v.segments)}`,
    );
  if (!isRecord(v.params)) throw new InvalidDataError(`${where}: params must be an object`);
  if (!isCount(v.createdAt)) throw new InvalidDataError(`${where}: createdAt must be epoch ms`);
  if (v.facts !== undefined && !isRecord(v.facts))
    throw new InvalidDataError(`${where}: facts must be an object`);
  return v as unknown as JobManifest;
}

/** Checks a parsed segment state against the job it was read for. */
export function validateSegmentState(
  v: unknown,
  where: string,
  job: JobManifest,
  segment: number,
): SegmentState {
  if (!isRecord(v) || v.format !== SEGMENT_STATE_FORMAT || v.version !== 1)
    throw new InvalidDataError(`${where} is not a ${SEGMENT_STATE_FORMAT} record (version 1)`);
  if (v.jobId !== job.jobId)
    throw new InvalidDataError(`${where} belongs to job "${String(v.jobId)}", not to job "${job.jobId}"`);
  if (v.segment !== segment)
    throw new InvalidDataError(
      `${where} is the state of segment ${String(v.segment)}, not of segment ${segment}`,
    );
  if (!isCount(v.slice) || v.slice < 1)
    throw new InvalidDataError(`${where}: slice must be a positive count`);
  if (typeof v.done !== 'boolean') throw new InvalidDataError(`${where}: done must be true or false`);
  if (!isRecord(v.totals) || !Object.values(v.totals).every(isCount))
    throw new InvalidDataError(`${where}: totals must map names to counts`);
  if (!Array.isArray(v.outputs)) throw new InvalidDataError(`${where}: outputs must be a list`);
  if (!('continuation' in v)) throw new InvalidDataError(`${where}: continuation is missing`);
  return v as unknown as SegmentState;
}
