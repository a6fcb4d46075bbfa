/**
 * The replication apply engine, shared by the Lambda handler, the stream runner and the backfill:
 * cut-over filter, then transform, then plan (last change per key wins), then writes of distinct keys
 * to every replica in BatchWriteItem-sized chunks with several requests in flight. The outcome of
 * every key is known: what could not be written is reported with the key and the first sequence
 * number of that key in the batch, so the caller can retry from there (at least once; re-applying a
 * batch converges because each key's write is its latest state). A key whose write breaks one of
 * DynamoDB's item limits (plan.ts) is `rejected` instead: it is not written and not part of the
 * retry point, since delivering it again cannot make it valid; callers report it and go on.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import type { RetryPolicy } from '../core/backoff.js';
import { canonicalKey, keyIdOfCanonical, keyOf } from '../core/canonical-key.js';
import { compareSequenceNumbers, type Change } from '../core/change.js';
import { InvalidDataError, ItemTooLargeError, UnprocessedError } from '../core/errors.js';
import { turnoverKeeps, type TurnoverFilter } from '../core/turnover.js';
import type { KeySchema } from '../core/types.js';
import { batchGetAll } from '../dynamodb/batch-get.js';
import { batchWriteAll, type WriteRequest } from '../dynamodb/batch-write.js';
import { assertSameKeySchema, describeTable, type TableInfo } from '../dynamodb/tables.js';
import { assertImagesAvailable, planChanges, recordKey, type PlannedWrite } from './plan.js';
import { runTransform, type TransformFn } from './transform.js';

export interface ReplicaTarget {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** How logs and errors name this replica; defaults to the table name. */
  readonly label?: string;
}

export interface ApplyOptions {
  readonly replicas: readonly ReplicaTarget[];
  /** The source's key schema (equal to every replica's, see prepareReplicas). */
  readonly keySchema: KeySchema;
  /** BatchWriteItem requests in flight, over all replicas. Default DEFAULT_APPLY_CONCURRENCY. */
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  readonly transform?: TransformFn;
  readonly turnover?: TurnoverFilter;
  /** The source table, for streams without new images: read the current item with a consistent read. */
  readonly readThrough?: { readonly client: DynamoDBClient; readonly table: string };
  readonly signal?: AbortSignal;
  /**
   * Called before each BatchWriteItem request (after the transform): throwing stops the batch and
   * applyChanges rejects with that error. The runner checks its checkpoint lease here.
   */
  readonly guard?: () => void | Promise<void>;
}

export interface KeyFailure {
  readonly keyId: string;
  /** canonicalKey of the item's key. */
  readonly key: string;
  /** The first record of this key in the batch: a retry must start there. */
  readonly firstSequenceNumber: string;
  readonly error: string;
  /**
   * Retrying cannot help: DynamoDB refused the write as invalid (ValidationException for this item
   * alone), the item failed the project's own checks (size, key attributes), or the records cannot be
   * planned (e.g. a new image whose key differs from the record's).
   */
  readonly refused?: true;
}

export interface ApplyResult {
  /** Records given. */
  readonly received: number;
  /** Records whose key's latest state is durably written to every replica. */
  readonly applied: number;
  /** Records dropped by the cut-over filter or the transform. */
  readonly skipped: number;
  readonly failed: readonly KeyFailure[];
  /** Keys whose write DynamoDB would refuse whatever the moment (item limits): not retried. */
  readonly rejected: readonly KeyFailure[];
  /** Records of the rejected keys. */
  readonly rejectedRecords: number;
  /** The lowest firstSequenceNumber of `failed`: everything from here on must be delivered again. */
  readonly lowestFailedSequenceNumber?: string;
  /** Distinct keys written (per replica). */
  readonly keys: number;
  readonly durationMs: number;
  /** BatchWriteItem requests sent again for unprocessed items (throttling), over all replicas. */
  readonly retries: number;
}

export const DEFAULT_APPLY_CONCURRENCY = 8;
/**
 * Keys per BatchWriteItem. Full requests even for small batches: DynamoDB's cost is per request plus
 * per item, so splitting a Lambda batch of 100 into more, smaller requests measured no faster.
 */
const MAX_BATCH_WRITE = 25;
const MAX_BATCH_GET = 100;

export function replicaLabel(target: ReplicaTarget): string {
  return target.label ?? target.table;
}

export interface PreparedReplicas {
  /** The key schema every replica shares. */
  readonly keySchema: KeySchema;
  readonly tables: readonly TableInfo[];
}

/**
 * Checks, once at start, that every replica table exists (NotFoundError naming it) and has the same
 * key schema as `expected` (the source's, when known) and as each other (KeySchemaMismatchError).
 *
 * @example
 * const { keySchema } = await prepareReplicas([{ client: replicaClient, table: 'users' }]);
 */
export async function prepareReplicas(
  replicas: readonly ReplicaTarget[],
  expected?: { readonly keySchema: KeySchema; readonly label: string },
): Promise<PreparedReplicas> {
  if (replicas.length === 0) throw new TypeError('prepareReplicas: no replica given');
  const tables = await Promise.all(replicas.map((r) => describeTable(r.client, r.table)));
  const reference = expected ?? {
    keySchema: (tables[0] as TableInfo).keySchema,
    label: replicaLabel(replicas[0] as ReplicaTarget),
  };
  tables.forEach((info, i) => {
    assertSameKeySchema(reference.keySchema, info.keySchema, [
      reference.label,
      replicaLabel(replicas[i] as ReplicaTarget),
    ]);
  });
  return { keySchema: reference.keySchema, tables };
}

/** Failed keys of one batch, merged over stages and replicas. */
class Failures {
  private readonly byKey = new Map<string, { first: string; errors: string[]; refused: boolean }>();

  add(canonical: string, firstSequenceNumber: string, error: string, refused = false): void {
    const entry = this.byKey.get(canonical);
    if (entry === undefined) {
      this.byKey.set(canonical, { first: firstSequenceNumber, errors: [error], refused });
      return;
    }
    if (compareSequenceNumbers(firstSequenceNumber, entry.first) < 0) entry.first = firstSequenceNumber;
    if (!entry.errors.includes(error)) entry.errors.push(error);
    if (refused) entry.refused = true;
  }

  has(canonical: string): boolean {
    return this.byKey.has(canonical);
  }

  list(): KeyFailure[] {
    return [...this.byKey].map(([key, e]) => ({
      keyId: keyIdOfCanonical(key),
      key,
      firstSequenceNumber: e.first,
      error: e.errors.join('; '),
      ...(e.refused ? { refused: true as const } : {}),
    }));
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** DynamoDB refused the request as invalid (one bad item fails a whole BatchWriteItem). */
function isValidationError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'ValidationException') return true;
  }
  return false;
}

/** Keys listed as unprocessed by an UnprocessedError, or undefined for any other error. */
function unprocessedKeys(error: unknown): Set<string> | undefined {
  if (!(error instanceof UnprocessedError)) return undefined;
  return new Set(error.unprocessed.flatMap((u) => u.keys));
}

interface KeyWrite {
  readonly planned: PlannedWrite;
  readonly request: WriteRequest;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs the transform on every kept change. A key whose transform failed is not written at all (so
 * the retry from its first record in the batch replays its changes in order); its failure is
 * recorded under the record's own key.
 */
async function transformAll(
  changes: readonly Change[],
  kept: readonly Change[],
  transform: TransformFn,
  schema: KeySchema,
  readThrough: boolean,
  failures: Failures,
): Promise<{ planned: Change[]; dropped: number }> {
  const firstOfOrigin = new Map<string, string>();
  for (const c of changes) {
    const o = canonicalKey(recordKey(c, schema));
    const first = firstOfOrigin.get(o);
    if (first === undefined || compareSequenceNumbers(c.sequenceNumber, first) < 0)
      firstOfOrigin.set(o, c.sequenceNumber);
  }
  const results = await Promise.all(
    kept.map((change) =>
      runTransform(transform, change, { keySchema: schema, readThrough }).then(
        (value) => ({ change, value }),
        (error: unknown) => ({ change, error }),
      ),
    ),
  );
  const origin = (c: Change): string => canonicalKey(recordKey(c, schema));
  for (const r of results) {
    if ('error' in r) {
      const o = origin(r.change);
      failures.add(o, firstOfOrigin.get(o) as string, `transform failed: ${message(r.error)}`);
    }
  }
  const planned: Change[] = [];
  let dropped = 0;
  for (const r of results) {
    if (failures.has(origin(r.change))) continue;
    if ('value' in r && r.value !== null) planned.push(r.value);
    else dropped++;
  }
  return { planned, dropped };
}

interface Prepared {
  readonly resolved: readonly KeyWrite[];
  readonly skipped: number;
  readonly rejected: readonly KeyFailure[];
  readonly rejectedRecords: number;
}

/** Cut-over filter, transform, plan and read-through: the writes a batch comes down to. */
async function prepare(
  changes: readonly Change[],
  options: ApplyOptions,
  limit: ReturnType<typeof pLimit>,
  failures: Failures,
): Promise<Prepared> {
  const schema = options.keySchema;
  const readThrough = options.readThrough !== undefined;
  assertImagesAvailable(changes, readThrough);
  let skipped = 0;
  const kept = options.turnover
    ? changes.filter((c) => turnoverKeeps(options.turnover as TurnoverFilter, c.approximateCreationTime))
    : changes;
  skipped += changes.length - kept.length;

  let planned: readonly Change[] = kept;
  if (options.transform) {
    const transformed = await transformAll(changes, kept, options.transform, schema, readThrough, failures);
    planned = transformed.planned;
    skipped += transformed.dropped;
  }

  const plan = planChanges(planned, { keySchema: schema, readThrough });
  for (const f of plan.failures) failures.add(f.canonical, f.firstSequenceNumber, f.error, true);
  const rejected = plan.rejected.map((f) => ({
    keyId: keyIdOfCanonical(f.canonical),
    key: f.canonical,
    firstSequenceNumber: f.firstSequenceNumber,
    error: f.error,
  }));

  const resolved: KeyWrite[] = [];
  const reads: PlannedWrite[] = [];
  for (const w of plan.writes) {
    if (w.action.kind === 'put') resolved.push({ planned: w, request: { put: w.action.item } });
    else if (w.action.kind === 'delete') resolved.push({ planned: w, request: { delete: w.key } });
    else reads.push(w);
  }
  if (reads.length > 0 && options.readThrough) {
    resolved.push(...(await readCurrentItems(reads, options.readThrough, schema, limit, failures, options)));
  }
  return {
    resolved,
    skipped,
    rejected,
    rejectedRecords: plan.rejected.reduce((sum, f) => sum + f.records, 0),
  };
}

/** One write a batch comes down to, and how many of its records it stands for. */
export interface PreparedWrite {
  readonly request: WriteRequest;
  readonly records: number;
}

export interface PreparedWrites {
  readonly writes: readonly PreparedWrite[];
  /** Records dropped by the cut-over filter or the transform. */
  readonly skipped: number;
  /** Keys whose transform failed or whose records cannot be planned: nothing written for them. */
  readonly failed: readonly KeyFailure[];
  readonly rejected: readonly KeyFailure[];
  readonly rejectedRecords: number;
}

/**
 * What applyChanges would write for `changes`, without writing it: for a caller that writes through
 * its own writer (the backfill's copy). Same filter, transform, plan and read-through.
 */
export async function prepareWrites(
  changes: readonly Change[],
  options: Omit<ApplyOptions, 'replicas'>,
): Promise<PreparedWrites> {
  const failures = new Failures();
  const limit = pLimit(Math.max(1, options.concurrency ?? DEFAULT_APPLY_CONCURRENCY));
  const p = await prepare(changes, { ...options, replicas: [] }, limit, failures);
  return {
    writes: p.resolved.map((w) => ({ request: w.request, records: w.planned.records })),
    skipped: p.skipped,
    failed: failures.list(),
    rejected: p.rejected,
    rejectedRecords: p.rejectedRecords,
  };
}

/**
 * Applies a batch of changes to every replica; see the module comment. Throws only for a batch that
 * cannot be replicated at all (UsageError: key schema mismatch, a stream without images), before
 * anything is written, or with the error of `guard`.
 *
 * @example
 * // Changes from a Lambda event, GetRecords or a change log are the same Change type.
 * const replicas = [{ client: replicaClient, table: 'users' }];
 * const { keySchema } = await prepareReplicas(replicas);
 * const result = await applyChanges(changesFromLambdaEvent(event), { replicas, keySchema });
 * console.log(result.failed.length); // keys to retry
 */
export async function applyChanges(changes: readonly Change[], options: ApplyOptions): Promise<ApplyResult> {
  const started = performance.now();
  const schema = options.keySchema;
  const limit = pLimit(Math.max(1, options.concurrency ?? DEFAULT_APPLY_CONCURRENCY));
  const failures = new Failures();
  const { resolved, skipped, rejected, rejectedRecords } = await prepare(changes, options, limit, failures);

  const tasks: Promise<void>[] = [];
  const counters = { retries: 0 };
  for (const replica of options.replicas) {
    for (const part of chunk(resolved, MAX_BATCH_WRITE)) {
      tasks.push(limit(() => writeChunk(replica, part, schema, failures, options, counters)));
    }
  }
  await Promise.all(tasks);

  let applied = 0;
  for (const w of resolved) if (!failures.has(w.planned.canonical)) applied += w.planned.records;
  const failed = failures.list();
  const lowest = failed.reduce<string | undefined>(
    (min, f) =>
      min === undefined || compareSequenceNumbers(f.firstSequenceNumber, min) < 0
        ? f.firstSequenceNumber
        : min,
    undefined,
  );
  return {
    received: changes.length,
    applied,
    skipped,
    failed,
    rejected,
    rejectedRecords,
    ...(lowest !== undefined ? { lowestFailedSequenceNumber: lowest } : {}),
    keys: resolved.length,
    durationMs: performance.now() - started,
    retries: counters.retries,
  };
}

async function writeChunk(
  replica: ReplicaTarget,
  part: readonly KeyWrite[],
  schema: KeySchema,
  failures: Failures,
  options: ApplyOptions,
  counters: { retries: number },
): Promise<void> {
  const label = replicaLabel(replica);
  await options.guard?.();
  try {
    const written = await batchWriteAll(
      replica.client,
      { [replica.table]: part.map((w) => w.request) },
      {
        keySchemas: { [replica.table]: schema },
        // The plan checked every put and delete against the item limits (read-through items come
        // from DynamoDB itself, within them by construction).
        limitsChecked: true,
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    counters.retries += written.retries;
  } catch (error) {
    if (part.length > 1 && isValidationError(error)) {
      // One invalid item fails the whole request: write the chunk's keys one by one to find it.
      await Promise.all(part.map((w) => writeChunk(replica, [w], schema, failures, options, counters)));
      return;
    }
    const unprocessed = unprocessedKeys(error);
    const known = unprocessed !== undefined && part.some((w) => unprocessed.has(w.planned.canonical));
    // One item alone refused as invalid, or failing our own checks, will be refused every time.
    const refused =
      part.length === 1 &&
      (isValidationError(error) || error instanceof InvalidDataError || error instanceof ItemTooLargeError);
    for (const w of part) {
      if (known && !unprocessed.has(w.planned.canonical)) continue;
      const text = `replica ${label}: ${message(error)}`;
      failures.add(w.planned.canonical, w.planned.firstSequenceNumber, text, refused);
    }
  }
}

async function readCurrentItems(
  reads: readonly PlannedWrite[],
  source: NonNullable<ApplyOptions['readThrough']>,
  schema: KeySchema,
  limit: ReturnType<typeof pLimit>,
  failures: Failures,
  options: ApplyOptions,
): Promise<KeyWrite[]> {
  const out: KeyWrite[] = [];
  await Promise.all(
    chunk(reads, MAX_BATCH_GET).map((part) =>
      limit(async () => {
        try {
          const { items } = await batchGetAll(
            source.client,
            { [source.table]: { keys: part.map((w) => w.key), consistentRead: true } },
            options.retry ? { retry: options.retry } : {},
          );
          const found = new Map(
            (items[source.table] ?? []).map((item) => [canonicalKey(keyOf(item, schema)), item]),
          );
          for (const w of part) {
            const item = found.get(w.canonical);
            out.push({ planned: w, request: item ? { put: item } : { delete: w.key } });
          }
        } catch (error) {
          // Items read before the error are not returned, so every key of the chunk is unresolved.
          for (const w of part) {
            failures.add(
              w.canonical,
              w.firstSequenceNumber,
              `read-through from ${source.table}: ${message(error)}`,
            );
          }
        }
      }),
    ),
  );
  return out;
}
