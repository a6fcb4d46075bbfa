/**
 * diff-tables as a scan job: segment s reads DynamoDB segment s of M of the primary and of the
 * replica, a page from each at a time, and pairs keys by their fingerprints (as diffTables does).
 * A key seen on one side only waits for its partner; the waiting keys (canonical key, side,
 * fingerprint) travel in the continuation, so a slice can stop anywhere. Keys that do not match
 * are re-read from both sides (strongly consistent BatchGetItem) and judged with the same rules as
 * diffTables (classify; a key this segment saw only in the replica is reported only as extraneous,
 * since the segment holding it in the primary owns it). Each slice writes its report lines to
 * `segments/<s>/report-<slice>-<run>.jsonl` in the job folder and, with repair, writes the fixes
 * before it commits; the merge concatenates the committed parts in segment and slice order into
 * `report.jsonl`. With `settleMs` (a scheduled check of a live pair), a slice reads the keys it found
 * differing once more after that long and reports only those still differing (changes in flight are
 * not counted, as diffTables' settle re-check); without it, run a job on a quiet pair, or re-run the
 * keys it reports with diff-record. `labels` (any JSON) is copied to the merge result: a scheduled
 * check's metric dimensions (lambda/scan-job.ts publishes them).
 */
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { fromDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, UsageError } from '../core/errors.js';
import { mergeTotals, type JsonValue, type SliceOutcome } from '../core/scan-job.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { batchGetAll } from '../dynamodb/batch-get.js';
import { scanKeyedPages, type KeyedPage } from '../dynamodb/scan.js';
import { assertSameKeySchema, describeTable } from '../dynamodb/tables.js';
import { writeAll, type WriteRequest } from '../dynamodb/writer.js';
import { classify, type Discrepancy } from '../diff/diff-tables.js';
import { itemFingerprint } from '../diff/fingerprint.js';
import { reportLine } from '../diff/report.js';
import { budgetSpent } from '../core/scan-job.js';
import { sleep } from '../core/backoff.js';
import { segmentFolder } from './job-folder.js';
import {
  continuationField,
  decodeKey,
  encodeKey,
  optionalCount,
  stringParam,
  type JobKindSpec,
  type JobTable,
  type SliceContext,
  readBudget,
  writeBudget,
} from './kind.js';
import type { CapacityBudget } from '../dynamodb/capacity.js';

export const REPORT_FILE = 'report.jsonl';
const RECHECK_BATCH = 100;
/** Longest settle wait a slice may take (it runs inside the slice's commit margin). */
export const MAX_SETTLE_MS = 30_000;

type SideTag = 'p' | 'r';
/** A key seen on one side only so far: [canonical key, side, fingerprint]. */
type Waiting = [string, SideTag, string];

interface Candidate {
  readonly keyText: string;
  readonly inPrimary: boolean;
}

/** One side's scan: where it stands and its iterator of responses. */
interface SideScan {
  lastKey: Item | undefined;
  done: boolean;
  readonly pages: AsyncIterator<KeyedPage> | undefined;
}

function sideScan(
  ctx: SliceContext,
  t: JobTable,
  start: Item | undefined,
  done: boolean,
  pageSize: number | undefined,
  budget: CapacityBudget | undefined,
): SideScan {
  const { job, state } = ctx;
  return {
    lastKey: start,
    done,
    pages: done
      ? undefined
      : scanKeyedPages(t.client, {
          table: t.table,
          ...(job.segments > 1 ? { segment: state.segment, totalSegments: job.segments } : {}),
          ...(start ? { startKey: start } : {}),
          ...(pageSize ? { pageSize } : {}),
          ...(budget ? { budget } : {}),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        })[Symbol.asyncIterator](),
  };
}

async function nextPage(scan: SideScan): Promise<Item[]> {
  if (scan.done || !scan.pages) return [];
  const r = await scan.pages.next();
  if (r.done) {
    scan.done = true;
    return [];
  }
  scan.lastKey = r.value.lastKey;
  if (!r.value.lastKey) scan.done = true;
  return r.value.items;
}

/** The slice's join and counters: pairs keys of the two sides by fingerprint. */
class SliceJoin {
  readonly waiting: Map<string, [SideTag, string]>;
  readonly candidates: Candidate[] = [];

  constructor(initial: readonly Waiting[]) {
    this.waiting = new Map(initial.map(([k, side, fp]) => [k, [side, fp]]));
  }

  add(side: SideTag, items: readonly Item[], schema: KeySchema): void {
    for (const item of items) {
      const key = canonicalKey(keyOf(item, schema));
      const fp = itemFingerprint(item);
      const other = this.waiting.get(key);
      if (other && other[0] !== side) {
        this.waiting.delete(key);
        if (other[1] !== fp) this.candidates.push({ keyText: key, inPrimary: true });
      } else {
        this.waiting.set(key, [side, fp]);
      }
    }
  }

  /** At the end of the segment every waiting key is a candidate. */
  drain(): void {
    for (const [keyText, [side]] of this.waiting) this.candidates.push({ keyText, inPrimary: side === 'p' });
    this.waiting.clear();
  }

  pending(): Waiting[] {
    return [...this.waiting].map(([k, [side, fp]]) => [k, side, fp]);
  }
}

function waitingOf(v: JsonValue | undefined, where: string): Waiting[] {
  if (v === undefined || v === null) return [];
  const ok =
    Array.isArray(v) &&
    v.every(
      (w) =>
        Array.isArray(w) &&
        w.length === 3 &&
        typeof w[0] === 'string' &&
        (w[1] === 'p' || w[1] === 'r') &&
        typeof w[2] === 'string',
    );
  if (!ok) throw new InvalidDataError(`${where}: waiting keys are malformed`);
  return v as Waiting[];
}

type BudgetedTable = JobTable & { readonly budget: CapacityBudget | undefined };

/** Re-reads candidates from both sides and returns what differs (this segment's share only). */
async function judge(
  candidates: readonly Candidate[],
  primary: BudgetedTable,
  replica: BudgetedTable,
  schema: KeySchema,
  sharded: boolean,
): Promise<Discrepancy[]> {
  const found: Discrepancy[] = [];
  for (let i = 0; i < candidates.length; i += RECHECK_BATCH) {
    const batch = candidates.slice(i, i + RECHECK_BATCH);
    const keys: Key[] = batch.map((c) => fromDynamoJson(JSON.parse(c.keyText), 'canonical key'));
    const read = async (t: BudgetedTable) => {
      const { items } = await batchGetAll(
        t.client,
        { [t.table]: { keys, consistentRead: true } },
        t.budget ? { budget: t.budget } : {},
      );
      return new Map((items[t.table] ?? []).map((item) => [canonicalKey(keyOf(item, schema)), item]));
    };
    const [p, r] = await Promise.all([read(primary), read(replica)]);
    batch.forEach((c, j) => {
      const primaryItem = p.get(c.keyText);
      const replicaItem = r.get(c.keyText);
      const kind = classify(primaryItem, replicaItem);
      if (kind === undefined || (sharded && !c.inPrimary && kind !== 'extraneous')) return;
      found.push({
        kind,
        key: keys[j] as Key,
        keyText: c.keyText,
        ...(primaryItem ? { primary: primaryItem } : {}),
        ...(replicaItem ? { replica: replicaItem } : {}),
      });
    });
  }
  return found;
}

/** The settle re-check: the candidates found differing, read again after `settleMs`. */
async function settle(
  ctx: SliceContext,
  settleMs: number,
  candidates: readonly Candidate[],
  found: readonly Discrepancy[],
  judgeAgain: (c: readonly Candidate[]) => Promise<Discrepancy[]>,
): Promise<Discrepancy[]> {
  if (settleMs === 0 || found.length === 0) return [...found];
  await sleep(settleMs, ctx.signal);
  const differing = new Set(found.map((d) => d.keyText));
  return judgeAgain(candidates.filter((c) => differing.has(c.keyText)));
}

function settleParam(params: SliceContext['job']['params']): number {
  const ms = optionalCount(params, 'settleMs', 0) ?? 0;
  if (ms > MAX_SETTLE_MS)
    throw new UsageError(`job parameter "settleMs" must be at most ${MAX_SETTLE_MS}, got ${ms}`);
  return ms;
}

function countKinds(found: readonly Discrepancy[]) {
  const n = (k: Discrepancy['kind']) => found.filter((d) => d.kind === k).length;
  return {
    missing: n('missing'),
    different: n('different'),
    extraneous: n('extraneous'),
    total: found.length,
  };
}

/**
 * What a slice found, made durable before it commits: with repair, the fixes written to the replica;
 * the report lines in a part file of this run (referenced by the state the slice commits).
 */
async function recordFindings(
  ctx: SliceContext,
  found: readonly Discrepancy[],
  replica: JobTable,
  schema: KeySchema,
): Promise<{ repaired: number; outputs: JsonValue[] }> {
  if (found.length === 0) return { repaired: 0, outputs: [] };
  let repaired = 0;
  if (ctx.job.params.repair === true) {
    const fixes: WriteRequest[] = found.map((d) => (d.primary ? { put: d.primary } : { delete: d.key }));
    const budget = writeBudget(ctx);
    const written = await writeAll(replica.client, replica.table, fixes, {
      keySchema: schema,
      ...(budget ? { budget } : {}),
    });
    repaired = written.written;
  }
  const slice = String(ctx.state.slice + 1).padStart(8, '0');
  const key = `${segmentFolder(ctx.state.segment)}/report-${slice}-${ctx.token}.jsonl`;
  await ctx.folder.store.put(key, found.map((d) => reportLine(d, false)).join(''));
  return { repaired, outputs: [{ report: key, lines: found.length }] };
}

/**
 * Job parameters: `primary`, `replica` (table locations), `repair` (boolean), optional `pageSize`,
 * `settleMs` (0 to MAX_SETTLE_MS) and `labels` (any JSON, copied to the result).
 */
export const diffKind: JobKindSpec = {
  kind: 'diff',
  checkParams(params) {
    stringParam(params, 'primary');
    stringParam(params, 'replica');
    optionalCount(params, 'pageSize');
    settleParam(params);
  },
  async plan(env, params) {
    const primary = env.openTable(stringParam(params, 'primary'));
    const replica = env.openTable(stringParam(params, 'replica'));
    const [p, r] = await Promise.all([
      describeTable(primary.client, primary.table),
      describeTable(replica.client, replica.table),
    ]);
    assertSameKeySchema(p.keySchema, r.keySchema, [primary.label, replica.label]);
    return { keySchema: p.keySchema as unknown as JsonValue };
  },
  async runSlice(ctx): Promise<SliceOutcome> {
    const { job, state } = ctx;
    const where = `${job.jobId} segment ${state.segment}`;
    const primary = ctx.env.openTable(stringParam(job.params, 'primary'));
    const replica = ctx.env.openTable(stringParam(job.params, 'replica'));
    const schema = job.facts?.keySchema as unknown as KeySchema;
    const pageSize = optionalCount(job.params, 'pageSize');
    // Each table has its own capacity: one read budget per side, for its scan and its re-reads.
    const budgets = { primary: readBudget(ctx), replica: readBudget(ctx) };
    const p = sideScan(
      ctx,
      primary,
      decodeKey(continuationField(state, 'p'), `${where} p`),
      continuationField(state, 'pDone') === true,
      pageSize,
      budgets.primary,
    );
    const r = sideScan(
      ctx,
      replica,
      decodeKey(continuationField(state, 'r'), `${where} r`),
      continuationField(state, 'rDone') === true,
      pageSize,
      budgets.replica,
    );
    const join = new SliceJoin(waitingOf(continuationField(state, 'waiting'), where));
    let scannedPrimary = 0;
    let scannedReplica = 0;
    while (!(p.done && r.done)) {
      const [pp, rp] = await Promise.all([nextPage(p), nextPage(r)]);
      join.add('p', pp, schema);
      join.add('r', rp, schema);
      scannedPrimary += pp.length;
      scannedReplica += rp.length;
      if (budgetSpent(ctx.budget, ctx.startedAt, ctx.now(), scannedPrimary + scannedReplica)) break;
    }
    const done = p.done && r.done;
    if (done) join.drain();
    const judgeNow = (candidates: readonly Candidate[]) =>
      judge(
        candidates,
        { ...primary, budget: budgets.primary },
        { ...replica, budget: budgets.replica },
        schema,
        job.segments > 1,
      );
    const settleMs = settleParam(job.params);
    const seen = await judgeNow(join.candidates);
    const found = await settle(ctx, settleMs, join.candidates, seen, judgeNow);
    const { repaired, outputs } = await recordFindings(ctx, found, replica, schema);
    return {
      done,
      continuation: {
        p: encodeKey(p.lastKey),
        pDone: p.done,
        r: encodeKey(r.lastKey),
        rDone: r.done,
        waiting: join.pending(),
      },
      totals: {
        scannedPrimary,
        scannedReplica,
        rechecked: join.candidates.length,
        ...countKinds(found),
        repaired,
        ...(settleMs > 0 ? { settled: seen.length - found.length } : {}),
      },
      outputs,
    };
  },
  async merge(ctx) {
    const totals = mergeTotals(ctx.states);
    const parts = ctx.states.flatMap((s) => s.outputs as { report: string; lines: number }[]);
    const chunks: Buffer[] = [];
    for (const part of parts) chunks.push(await ctx.folder.store.get(part.report));
    await ctx.folder.store.put(REPORT_FILE, Buffer.concat(chunks), { contentType: 'application/x-ndjson' });
    return {
      primary: stringParam(ctx.job.params, 'primary'),
      replica: stringParam(ctx.job.params, 'replica'),
      repair: ctx.job.params.repair === true,
      scanned: { primary: totals.scannedPrimary ?? 0, replica: totals.scannedReplica ?? 0 },
      rechecked: totals.rechecked ?? 0,
      discrepancies: {
        missing: totals.missing ?? 0,
        different: totals.different ?? 0,
        extraneous: totals.extraneous ?? 0,
        total: totals.total ?? 0,
      },
      ...(ctx.job.params.repair === true ? { repaired: { written: totals.repaired ?? 0 } } : {}),
      ...(totals.settled !== undefined ? { settled: totals.settled } : {}),
      report: `${ctx.folder.label}/${REPORT_FILE}`,
      ...(ctx.job.params.labels !== undefined ? { labels: ctx.job.params.labels } : {}),
    };
  },
};
