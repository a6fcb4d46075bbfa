/**
 * `diff-tables <table> <backup> --against-backup` as a scan job, in two phases of the same kind.
 *
 * DynamoDB cannot say which scan segment holds a key, so the table's segments and the backup's data
 * files cannot be paired. Instead every item is reduced to an order-independent digest per bucket
 * (core/multiset-hash.ts; bucket = a hash of the canonical key mod B, B recorded in the facts):
 *
 * - Phase 1 (`hash`): segment s of M scans table segment s of M and reads the backup's data files
 *   i with i mod M == s (the list `plan` recorded). For a change log the files are its base
 *   snapshot's, with the overlay applied: a file item whose key changed since the base is skipped,
 *   and segment 0 adds the overlay's live images (the overlay is written to the job folder by
 *   `plan`: one entry per changed key, point-in-time.ts's memory bound). Each slice writes the
 *   digests of what it read (create-only name with the slice's token) and commits; the merge adds
 *   them per bucket and side. Equal everywhere: the table equals the backup, 0 discrepancies.
 * - Phase 2 (`drill`, one job per batch of differing buckets): the same walk collects (canonical
 *   key, side, fingerprint) of the items in the batch's buckets only; the merge joins them, re-reads
 *   the table (strongly consistent BatchGetItem) for every key that does not match, and judges it
 *   exactly as diffTables judges a key against a backup (classify by the table's current item and
 *   the backup's fingerprint), writing report lines in diff-tables' format.
 *
 * A merge result whose phase leaves work names it in `next: { kind, jobId, params, segments }`; the
 * CLI and the ScanJob state machine run it. The last phase's result has no `next` and holds the
 * totals of the whole check (scanned, rechecked, discrepancies, the report parts in order).
 */
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { canonicalKey, keyIdOfCanonical, keyOf } from '../core/canonical-key.js';
import { fromDynamoJson, toDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, UsageError } from '../core/errors.js';
import {
  bucketBatches,
  bucketOfKeyId,
  BucketDigests,
  DEFAULT_BUCKETS,
  differingBuckets,
  itemLanes,
} from '../core/multiset-hash.js';
import { assertJobIdText, budgetSpent, mergeTotals, type JsonValue } from '../core/scan-job.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { readItemFile, type ManifestFileEntry } from '../backup/export-layout.js';
import { resolveRestoreSource } from '../backup/restore-source.js';
import { batchGetAll } from '../dynamodb/batch-get.js';
import { assertSameKeySchema, describeTable } from '../dynamodb/tables.js';
import type { Discrepancy, DiscrepancyCounts } from '../diff/diff-tables.js';
import { itemFingerprint } from '../diff/fingerprint.js';
import { reportLine } from '../diff/report.js';
import { formatStoreLocation } from '../storage/object-store.js';
import { JobFolder, RESULT_FILE, segmentFolder } from './job-folder.js';
import {
  budgetedScan,
  continuationField,
  encodeKey,
  optionalCount,
  stringParam,
  type JobKindSpec,
  type MergeContext,
  type PlanPlace,
  type SliceContext,
} from './kind.js';
import type { JobEnvironment } from './kind.js';

export const VERIFY_BACKUP_KIND = 'verify-backup';
export const VERIFY_REPORT_FILE = 'report.jsonl';
/** Items (both sides) one drill-down job collects and joins in memory, by default. */
export const DEFAULT_DRILL_ITEMS = 1_000_000;
const RECHECK_CHUNK = 1_000;
const RECHECK_LANES = 4;
/** Longest job id a first phase may have, so its drill-down jobs' ids stay valid. */
const MAX_VERIFY_JOB_ID = 110;

type SideTag = 'p' | 'r';

/** What `plan` records (job.json facts). */
interface VerifyFacts {
  readonly keySchema: KeySchema;
  readonly tableLabel: string;
  readonly backupLabel: string;
  /** Export folder of the data files, relative to the backup location. */
  readonly folder: string;
  readonly files: readonly ManifestFileEntry[];
  readonly buckets: number;
  /** A change log's overlay in the job folder: `{id, item}` lines (item null: removed). */
  readonly overlay?: { readonly file: string; readonly keys: number };
  /** Drill-down jobs: the first phase's job and the buckets this job collects. */
  readonly of?: string;
  readonly drill?: readonly number[];
}

/** The id of drill-down job `batch` (0-based) of a first phase `of`. */
export function drillJobId(of: string, batch: number): string {
  return `${of}.drill-${batch + 1}`;
}

function factsOf(ctx: { job: { facts?: unknown } }): VerifyFacts {
  return ctx.job.facts as VerifyFacts;
}

const isDrill = (params: Record<string, JsonValue>) => params.phase === 'drill';

// -- plan -----------------------------------------------------------------------------------------

async function planHash(
  env: JobEnvironment,
  params: Record<string, JsonValue>,
  jobId: string,
  place: PlanPlace,
): Promise<VerifyFacts> {
  if (jobId.length > MAX_VERIFY_JOB_ID)
    throw new UsageError(`a verify-backup job id has at most ${MAX_VERIFY_JOB_ID} characters: ${jobId}`);
  const table = env.openTable(stringParam(params, 'table'));
  const info = await describeTable(table.client, table.table);
  const store = env.openStore(stringParam(params, 'backup'));
  const source = await resolveRestoreSource(store, {
    keySchema: info.keySchema,
    deferDataChecks: true,
    ...(typeof params.jobid === 'string' ? { jobId: params.jobid } : {}),
    ...(typeof params.at === 'number' ? { at: params.at } : {}),
  });
  if (source.keySchema)
    assertSameKeySchema(info.keySchema, source.keySchema, [`table ${table.label}`, source.label]);
  if (!source.parts)
    throw new UsageError(`${source.label} cannot be read in parts, so it cannot be verified by a job`);
  const overlay = source.parts.overlay;
  let written: VerifyFacts['overlay'];
  if (overlay) {
    const file = `overlay-${randomBytes(4).toString('hex')}.jsonl`;
    const lines = [...overlay].map(([id, c]) =>
      JSON.stringify({
        id,
        item: c.eventName !== 'REMOVE' && c.newImage ? toDynamoJson(c.newImage) : null,
      }),
    );
    await place.folder.store.put(file, lines.map((l) => l + '\n').join(''));
    written = { file, keys: overlay.size };
  }
  return {
    keySchema: info.keySchema,
    tableLabel: table.label,
    backupLabel: source.label,
    folder: source.parts.folder,
    files: source.parts.files,
    buckets: optionalCount(params, 'buckets') ?? DEFAULT_BUCKETS,
    ...(written ? { overlay: written } : {}),
  };
}

async function readResult(folder: JobFolder): Promise<Record<string, JsonValue>> {
  const text = (await folder.store.get(RESULT_FILE)).toString('utf8');
  const r = (JSON.parse(text) as { result?: unknown }).result;
  if (r === null || typeof r !== 'object' || Array.isArray(r))
    throw new InvalidDataError(`${folder.label}/${RESULT_FILE} holds no verify result`);
  return r as Record<string, JsonValue>;
}

/** A drill-down job's facts: the first phase's, its overlay copied here, and this batch's buckets. */
async function planDrill(params: Record<string, JsonValue>, place: PlanPlace): Promise<VerifyFacts> {
  const of = stringParam(params, 'of');
  const batch = optionalCount(params, 'batch', 0) ?? 0;
  const first = JobFolder.of(place.work, of);
  const job = await first.read();
  if (job.kind !== VERIFY_BACKUP_KIND || isDrill(job.params))
    throw new UsageError(`${first.label} is not the first phase of a verify-backup job`);
  for (const name of ['table', 'backup'])
    if (job.params[name] !== params[name])
      throw new UsageError(`${first.label} verifies another ${name}: ${JSON.stringify(job.params[name])}`);
  const batches = (await readResult(first)).batches as number[][] | undefined;
  const drill = batches?.[batch];
  if (!drill) throw new UsageError(`${first.label} has no drill-down batch ${batch + 1}`);
  const facts = job.facts as unknown as VerifyFacts;
  if (facts.overlay)
    await place.folder.store.put(facts.overlay.file, await first.store.get(facts.overlay.file));
  return { ...facts, of, drill };
}

// -- slices: one walk over a segment's share of both sides ------------------------------------------

interface Walk {
  /** Table items read, backup items read (overlay included), file items replaced by the overlay. */
  p: number;
  r: number;
  replaced: number;
  done: boolean;
  continuation: Record<string, JsonValue>;
}

/** The overlay's entries by key id: the last image, or null when the key's last change removed it. */
async function loadOverlay(ctx: SliceContext, facts: VerifyFacts): Promise<Map<string, Item | null>> {
  const out = new Map<string, Item | null>();
  if (!facts.overlay) return out;
  const where = `${ctx.folder.label}/${facts.overlay.file}`;
  const text = (await ctx.folder.store.get(facts.overlay.file)).toString('utf8');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as { id: string; item: unknown };
    out.set(e.id, e.item === null ? null : fromDynamoJson(e.item, where));
  }
  if (out.size !== facts.overlay.keys)
    throw new InvalidDataError(`${where} holds ${out.size} keys, not the ${facts.overlay.keys} planned`);
  return out;
}

type Visit = (side: SideTag, item: Item, keyText: string, keyIdText: string) => void;

/**
 * The segment's share, in order: its table segment, its data files, then (segment 0) the overlay's
 * live images; from the committed continuation until the budget is spent.
 */
async function walk(ctx: SliceContext, visit: Visit): Promise<Walk> {
  const facts = factsOf(ctx);
  const schema = facts.keySchema;
  const w: Walk = { p: 0, r: 0, replaced: 0, done: false, continuation: {} };
  const spent = () => budgetSpent(ctx.budget, ctx.startedAt, ctx.now(), w.p + w.r + w.replaced);
  const ids = (item: Item) => {
    const keyText = canonicalKey(keyOf(item, schema));
    return [keyText, keyIdOfCanonical(keyText)] as const;
  };
  const c = (name: string) => continuationField(ctx.state, name);
  const tDone = true;
  if (c('tDone') !== true) {
    // budgetedScan resumes from the continuation's `lastKey`.
    const scan = budgetedScan(ctx, ctx.env.openTable(stringParam(ctx.job.params, 'table')));
    for await (const page of scan.pages)
      for (const item of page) {
        w.p++;
        visit('p', item, ...ids(item));
      }
    if (!scan.position.done)
      return { ...w, continuation: { lastKey: encodeKey(scan.position.lastKey), tDone: false } };
  }
  const overlay = await loadOverlay(ctx, facts);
  const files = await walkFiles(ctx, facts, overlay, visit, ids, w, spent);
  if (!files.done) return { ...w, continuation: { tDone, ...files.at } };
  let o = Number(c('o') ?? 0);
  if (ctx.state.segment === 0) {
    const live = [...overlay.values()].filter((item): item is Item => item !== null);
    for (; o < live.length; o++) {
      if (spent()) return { ...w, continuation: { tDone, file: files.at.file, skip: 0, o } };
      const item = live[o] as Item;
      w.r++;
      visit('r', item, ...ids(item));
    }
  }
  return { ...w, done: true, continuation: {} };
}

/** The segment's data files (i mod M == s), a file's items skipped when the overlay changed their key. */
async function walkFiles(
  ctx: SliceContext,
  facts: VerifyFacts,
  overlay: ReadonlyMap<string, Item | null>,
  visit: Visit,
  ids: (item: Item) => readonly [string, string],
  w: Walk,
  spent: () => boolean,
): Promise<{ done: boolean; at: { file: number; skip: number } }> {
  const { job, state } = ctx;
  const files = facts.files.filter((_, i) => i % job.segments === state.segment);
  const base = ctx.env.openStore(stringParam(job.params, 'backup'));
  const store = facts.folder ? base.at(facts.folder) : base;
  const label = formatStoreLocation(store.location);
  let file = Number(continuationField(state, 'file') ?? 0);
  let skip = Number(continuationField(state, 'skip') ?? 0);
  for (; file < files.length; file++, skip = 0) {
    const entry = files[file] as ManifestFileEntry;
    let seen = 0;
    for await (const item of readItemFile(store, entry, facts.keySchema, label)) {
      seen++;
      if (seen <= skip) continue;
      const [keyText, id] = ids(item);
      if (overlay.has(id)) w.replaced++;
      else {
        w.r++;
        visit('r', item, keyText, id);
      }
      // At the file's last item the reader still has its MD5 check to do: let it finish.
      if (seen < entry.itemCount && spent()) return { done: false, at: { file, skip: seen } };
    }
    if (file + 1 < files.length && spent()) return { done: false, at: { file: file + 1, skip: 0 } };
  }
  return { done: true, at: { file, skip: 0 } };
}

function sliceKey(ctx: SliceContext, what: string, ext: string): string {
  const slice = String(ctx.state.slice + 1).padStart(8, '0');
  return `${segmentFolder(ctx.state.segment)}/${what}-${slice}-${ctx.token}.${ext}`;
}

async function hashSlice(ctx: SliceContext) {
  const buckets = factsOf(ctx).buckets;
  const digests = { p: new BucketDigests(), r: new BucketDigests() };
  const w = await walk(ctx, (side, item, keyText, id) =>
    digests[side].add(bucketOfKeyId(id, buckets), itemLanes(keyText, itemFingerprint(item))),
  );
  const outputs: JsonValue[] = [];
  if (w.p + w.r > 0) {
    const key = sliceKey(ctx, 'digests', 'json');
    const body = { p: digests.p.toJson(), r: digests.r.toJson() };
    if (!(await ctx.folder.store.create(key, JSON.stringify(body))))
      throw new InvalidDataError(`${ctx.folder.label}/${key} exists already`);
    outputs.push({ digests: key });
  }
  return { w, outputs, totals: {} };
}

async function drillSlice(ctx: SliceContext) {
  const facts = factsOf(ctx);
  const wanted = new Set(facts.drill);
  const lines: string[] = [];
  const w = await walk(ctx, (side, item, keyText, id) => {
    if (wanted.has(bucketOfKeyId(id, facts.buckets)))
      lines.push(JSON.stringify([keyText, side, itemFingerprint(item)]) + '\n');
  });
  const outputs: JsonValue[] = [];
  if (lines.length > 0) {
    const key = sliceKey(ctx, 'keys', 'jsonl');
    if (!(await ctx.folder.store.create(key, lines.join(''))))
      throw new InvalidDataError(`${ctx.folder.label}/${key} exists already`);
    outputs.push({ keys: key, lines: lines.length });
  }
  return { w, outputs, totals: { collected: lines.length } };
}

// -- merges -----------------------------------------------------------------------------------------

function outputKeys(ctx: MergeContext, field: 'digests' | 'keys'): string[] {
  return ctx.states.flatMap((s) =>
    s.outputs.map((o) => {
      const key = (o as Record<string, JsonValue>)[field];
      if (typeof key !== 'string')
        throw new InvalidDataError(`segment ${s.segment} of job ${s.jobId}: an output has no ${field}`);
      return key;
    }),
  );
}

const zero = (): DiscrepancyCounts => ({ missing: 0, different: 0, extraneous: 0, total: 0 });

function baseResult(ctx: MergeContext) {
  const facts = factsOf(ctx);
  const labels = ctx.job.params.labels;
  return {
    primary: facts.tableLabel,
    replica: facts.backupLabel,
    table: stringParam(ctx.job.params, 'table'),
    backup: stringParam(ctx.job.params, 'backup'),
    repair: false,
    againstBackup: true,
    ...(labels !== undefined ? { labels } : {}),
  };
}

/** The next drill-down job of the check whose first phase is `of`. */
function nextJob(ctx: MergeContext, of: string, batch: number): JsonValue {
  const params: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(ctx.job.params))
    if (!['phase', 'of', 'batch'].includes(k)) params[k] = v;
  return {
    kind: VERIFY_BACKUP_KIND,
    jobId: drillJobId(of, batch),
    params: { ...params, phase: 'drill', of, batch },
    segments: ctx.job.segments,
  };
}

async function mergeHash(ctx: MergeContext): Promise<JsonValue> {
  const facts = factsOf(ctx);
  const sides = { p: new BucketDigests(), r: new BucketDigests() };
  for (const key of outputKeys(ctx, 'digests')) {
    const where = `${ctx.folder.label}/${key}`;
    const body = JSON.parse((await ctx.folder.store.get(key)).toString('utf8')) as { p: unknown; r: unknown };
    sides.p.addAll(BucketDigests.fromJson(body.p, facts.buckets, `${where} p`));
    sides.r.addAll(BucketDigests.fromJson(body.r, facts.buckets, `${where} r`));
  }
  const totals = mergeTotals(ctx.states);
  const differing = differingBuckets(sides.p, sides.r);
  const max = optionalCount(ctx.job.params, 'drillItems') ?? DEFAULT_DRILL_ITEMS;
  const batches = bucketBatches(differing, max);
  return {
    ...baseResult(ctx),
    phase: 'hash',
    buckets: facts.buckets,
    scanned: { primary: totals.scannedTable ?? 0, replica: totals.scannedBackup ?? 0 },
    differingBuckets: differing.length,
    batches,
    ...(batches.length > 0
      ? { next: nextJob(ctx, ctx.job.jobId, 0) }
      : { rechecked: 0, discrepancies: { ...zero() }, reports: [] }),
  };
}

/** The collected entries by canonical key: [table fingerprint, backup fingerprint]. */
async function collected(ctx: MergeContext): Promise<Map<string, [string?, string?]>> {
  const byKey = new Map<string, [string?, string?]>();
  for (const key of outputKeys(ctx, 'keys')) {
    const text = (await ctx.folder.store.get(key)).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const [k, side, fp] = JSON.parse(line) as [string, SideTag, string];
      const e = byKey.get(k) ?? [];
      e[side === 'p' ? 0 : 1] = fp;
      byKey.set(k, e);
    }
  }
  return byKey;
}

/** Re-reads the keys that do not match from the table and judges them as diffTables does against a backup. */
async function judge(ctx: MergeContext, byKey: Map<string, [string?, string?]>): Promise<Discrepancy[]> {
  const facts = factsOf(ctx);
  const table = ctx.env.openTable(stringParam(ctx.job.params, 'table'));
  const candidates = [...byKey]
    .filter(([, [p, r]]) => p !== r)
    .map(([k]) => k)
    .sort();
  const limit = pLimit(RECHECK_LANES);
  const chunks: string[][] = [];
  for (let i = 0; i < candidates.length; i += RECHECK_CHUNK)
    chunks.push(candidates.slice(i, i + RECHECK_CHUNK));
  const found = await Promise.all(
    chunks.map((chunk) =>
      limit(async () => {
        const keys: Key[] = chunk.map((k) => fromDynamoJson(JSON.parse(k), 'canonical key'));
        const { items } = await batchGetAll(table.client, {
          [table.table]: { keys, consistentRead: true },
        });
        const current = new Map(
          (items[table.table] ?? []).map((item) => [canonicalKey(keyOf(item, facts.keySchema)), item]),
        );
        return chunk.flatMap((k, j): Discrepancy[] => {
          const item = current.get(k);
          const scanned = byKey.get(k)?.[1];
          const kind =
            item === undefined
              ? scanned === undefined
                ? undefined
                : 'extraneous'
              : scanned === undefined
                ? 'missing'
                : itemFingerprint(item) === scanned
                  ? undefined
                  : 'different';
          return kind ? [{ kind, key: keys[j] as Key, keyText: k, ...(item ? { primary: item } : {}) }] : [];
        });
      }),
    ),
  );
  return found.flat();
}

async function mergeDrill(ctx: MergeContext): Promise<JsonValue> {
  const facts = factsOf(ctx);
  const of = facts.of as string;
  const batch = optionalCount(ctx.job.params, 'batch', 0) ?? 0;
  const byKey = await collected(ctx);
  const found = await judge(ctx, byKey);
  await ctx.folder.store.put(VERIFY_REPORT_FILE, found.map((d) => reportLine(d, false)).join(''), {
    contentType: 'application/x-ndjson',
  });
  const first = await readResult(JobFolder.of(ctx.work, of));
  const before =
    batch === 0 ? undefined : await readResult(JobFolder.of(ctx.work, drillJobId(of, batch - 1)));
  const counts = { ...((before?.discrepancies as unknown as DiscrepancyCounts | undefined) ?? zero()) };
  for (const d of found) {
    counts[d.kind]++;
    counts.total++;
  }
  const rechecked = [...byKey.values()].filter(([p, r]) => p !== r).length;
  const batches = first.batches as number[][];
  return {
    ...baseResult(ctx),
    phase: 'drill',
    of,
    batch: batch + 1,
    batches: batches.length,
    buckets: facts.buckets,
    scanned: first.scanned ?? null,
    differingBuckets: first.differingBuckets ?? null,
    rechecked: Number(before?.rechecked ?? 0) + rechecked,
    discrepancies: { ...counts },
    reports: [...((before?.reports as string[] | undefined) ?? []), `${ctx.job.jobId}/${VERIFY_REPORT_FILE}`],
    ...(batch + 1 < batches.length ? { next: nextJob(ctx, of, batch + 1) } : {}),
  };
}

/**
 * Job parameters: `table` (table location), `backup` (store location), optional `jobid` (backup
 * job or export id), `at` (epoch ms, a change log's state at that moment), `pageSize`, `buckets`
 * (default 4096), `drillItems` (items one drill-down job joins in memory, default 1,000,000),
 * `labels` (any JSON, copied to the result: e.g. the metric dimensions a scheduled check reports
 * under). Drill-down jobs add `phase: "drill"`, `of` (the first phase's job id) and `batch`.
 */
export const verifyBackupKind: JobKindSpec = {
  kind: VERIFY_BACKUP_KIND,
  checkParams(params) {
    stringParam(params, 'table');
    stringParam(params, 'backup');
    if (params.jobid !== undefined) stringParam(params, 'jobid');
    if (params.at !== undefined && !(typeof params.at === 'number' && Number.isSafeInteger(params.at)))
      throw new UsageError(`job parameter "at" must be epoch milliseconds, got ${JSON.stringify(params.at)}`);
    optionalCount(params, 'pageSize');
    optionalCount(params, 'buckets');
    optionalCount(params, 'drillItems');
    if (params.phase !== undefined) {
      if (params.phase !== 'drill')
        throw new UsageError(`job parameter "phase" must be "drill", got ${JSON.stringify(params.phase)}`);
      assertJobIdText(stringParam(params, 'of'), 'job parameter "of"');
      optionalCount(params, 'batch', 0);
    }
  },
  async plan(env, params, jobId, place) {
    const facts = isDrill(params)
      ? await planDrill(params, place)
      : await planHash(env, params, jobId, place);
    return facts as unknown as Record<string, JsonValue>;
  },
  async runSlice(ctx) {
    const { w, outputs, totals } = factsOf(ctx).drill ? await drillSlice(ctx) : await hashSlice(ctx);
    return {
      done: w.done,
      continuation: w.done ? null : w.continuation,
      totals: { scannedTable: w.p, scannedBackup: w.r, replaced: w.replaced, ...totals },
      outputs,
    };
  },
  merge(ctx) {
    return factsOf(ctx).drill ? mergeDrill(ctx) : mergeHash(ctx);
  },
};
