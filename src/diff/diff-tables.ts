/**
 * Compares a primary and a replica and optionally repairs the replica.
 *
 * The phases (methods of DiffRun, in this order, overlapping where they can):
 * 1. Scan: segment s of the primary and segment s of the replica are read side by side, a page from
 *    each at a time, for every segment at once. Each item is reduced to (canonical key, fingerprint)
 *    and fed to a KeyJoin, which pairs the two sides in bounded memory (spilling to disk if needed).
 * 2. Join: when the scans end, the keys still waiting in the join (one side only) come out.
 * 3. Recheck: only keys the join could not match (one side only, or different fingerprints) are read
 *    again from both sides with strongly consistent BatchGetItem, and judged with `itemsEqual`.
 * 4. Settle (optional): a confirmed difference is read again after `settleMs`, so a change still on
 *    its way through replication is not reported as drift.
 * 5. Report and repair: each differing key is reported once with its kind; with a repair target, the
 *    primary's image is put (missing, different) or the key deleted (extraneous) through the
 *    never-drop writer, fed through a bounded channel so a slow writer slows the scans.
 *
 * Running one share of the key space (`share`, for several processes): a key is owned by the
 * process whose primary segment holds it. A key seen only in this share's replica segment is
 * reported only when the primary does not have it (extraneous); if the primary has it, the process
 * owning the primary's segment compares it. So the shares report every key once even if the two
 * tables were to place a key in different segments.
 */
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { fromDynamoJson } from '../core/ddb-json.js';
import { itemsEqual } from '../core/equality.js';
import { UsageError } from '../core/errors.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { sleep } from '../core/backoff.js';
import { assertSameKeySchema } from '../dynamodb/tables.js';
import { copyItems, type CopyProgress, type WriteSink } from '../dynamodb/copy-table.js';
import { mergePages, PageChannel } from '../dynamodb/page-channel.js';
import type { WriteRequest } from '../dynamodb/writer.js';
import { Batcher } from './batcher.js';
import { itemFingerprint } from './fingerprint.js';
import { KeyJoin, type JoinCandidate, type KeyJoinStats, type Side } from './join.js';
import type { DiffSide, RepairTarget } from './side.js';

export type DiscrepancyKind = 'missing' | 'different' | 'extraneous';

export interface Discrepancy {
  readonly kind: DiscrepancyKind;
  readonly key: Key;
  /** The canonical key JSON (core/canonical-key), the item's one name. */
  readonly keyText: string;
  /** The primary's item as last read; absent for `extraneous`. */
  readonly primary?: Item;
  /** The replica's item as last read; absent for `missing`. */
  readonly replica?: Item;
}

/** Which part of the key space one run covers: segment `segment` of `segments` on both sides. */
export interface Share {
  readonly segment: number;
  readonly segments: number;
}

export interface DiffTablesOptions {
  /** Segments scanned concurrently on each side when the whole table is compared (default 4). */
  readonly parallel?: number;
  /** Compare only this share of the key space (for several processes); excludes `parallel`. */
  readonly share?: Share;
  /** Re-check each confirmed difference after this many milliseconds; 0 reports at once. */
  readonly settleMs?: number;
  /** Where to write repairs; without it nothing is ever written. */
  readonly repair?: RepairTarget;
  /** Called once per discrepancy, after it was confirmed (and settled). */
  readonly onDiscrepancy?: (d: Discrepancy) => void | Promise<void>;
  readonly onProgress?: (p: DiffProgress) => void;
  /** Waiting join entries kept in memory before spilling to disk. */
  readonly maxInMemory?: number;
  readonly tempDir?: string;
  /** Keys per re-read batch (BatchGetItem takes 100). */
  readonly recheckBatchSize?: number;
  /** Re-read batches in flight. */
  readonly recheckConcurrency?: number;
  readonly signal?: AbortSignal;
}

export interface DiffProgress {
  readonly scannedPrimary: number;
  readonly scannedReplica: number;
  readonly discrepancies: number;
  readonly repaired: number;
}

export interface DiscrepancyCounts {
  missing: number;
  different: number;
  extraneous: number;
  total: number;
}

export interface DiffTablesResult {
  readonly scanned: { readonly primary: number; readonly replica: number };
  /** Keys re-read from both sides because the scans did not match them. */
  readonly rechecked: number;
  readonly discrepancies: DiscrepancyCounts;
  /** Differences seen on the first re-read that were gone on the settle re-check. */
  readonly settled: number;
  /** Only with a repair target. */
  readonly repaired?: {
    readonly written: number;
    readonly retries: number;
  };
  readonly seconds: number;
  readonly join: KeyJoinStats;
}

const DEFAULT_PARALLEL = 4;
const DEFAULT_RECHECK_BATCH = 100;
const DEFAULT_RECHECK_CONCURRENCY = 4;
/** A candidate waits at most this long for its batch to fill before it is re-read anyway. */
const RECHECK_MAX_WAIT_MS = 200;
/** A difference whose primary keeps changing is re-checked at most this many times before it is reported. */
const MAX_SETTLE_ROUNDS = 5;
/** Settle batches waiting (sleeping until due) or re-reading at once. */
const SETTLE_CONCURRENCY = 32;
/** Repairs queued ahead of the writer. */
const REPAIR_QUEUE = 2_000;

interface Pending {
  readonly candidate: JoinCandidate;
  readonly key: Key;
  /** Settle re-checks done so far. */
  readonly rounds: number;
  /** When the settle re-check is due (ms, performance.now()). */
  readonly due: number;
  /** The primary image at the previous read, to tell a still-changing item from real drift. */
  readonly primary?: Item;
}

/** The segments this run scans: its share, or all `parallel` segments of the table. */
export function segmentsToScan(options: Pick<DiffTablesOptions, 'parallel' | 'share'>): {
  readonly segments: readonly number[];
  readonly totalSegments: number;
} {
  if (options.share) {
    const { segment, segments } = options.share;
    if (!Number.isInteger(segments) || segments < 1 || !Number.isInteger(segment) || segment < 0) {
      throw new UsageError(`invalid share: segment ${segment} of ${segments}`);
    }
    if (segment >= segments) {
      throw new UsageError(`--segment must be less than --segments (got ${segment} of ${segments})`);
    }
    return { segments: [segment], totalSegments: segments };
  }
  const parallel = options.parallel ?? DEFAULT_PARALLEL;
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`invalid parallel: ${parallel}`);
  return { segments: Array.from({ length: parallel }, (_, i) => i), totalSegments: parallel };
}

/** The side's key lookup; the primary must have one (it is read again before anything is reported). */
export function lookupOf(side: DiffSide): NonNullable<DiffSide['getItems']> {
  const get = side.getItems?.bind(side);
  if (!get) throw new UsageError(`${side.label} cannot be read by key, so it cannot be the primary side`);
  return get;
}

/** The kind of difference between two current images, or undefined when they are equal. */
export function classify(primary: Item | undefined, replica: Item | undefined): DiscrepancyKind | undefined {
  if (primary === undefined) return replica === undefined ? undefined : 'extraneous';
  if (replica === undefined) return 'missing';
  return itemsEqual(primary, replica) ? undefined : 'different';
}

/**
 * Compares `primary` with `replica` (and repairs the replica when `options.repair` is given); see the
 * phases at the top of this file.
 *
 * @example
 * const { keySchema } = await describeTable(client, 'users');
 * const result = await diffTables(
 *   tableSide(client, 'users', keySchema),
 *   tableSide(replicaClient, 'users', keySchema),
 *   {
 *     settleMs: 2_000,
 *     repair: tableTarget(replicaClient, 'users', { keySchema }),
 *     onDiscrepancy: (d) => console.log(d.kind, d.keyText),
 *   },
 * );
 * console.log(result.discrepancies.total, result.repaired?.written);
 */
export async function diffTables(
  primary: DiffSide,
  replica: DiffSide,
  options: DiffTablesOptions = {},
): Promise<DiffTablesResult> {
  return new DiffRun(primary, replica, options).run();
}

/** One diff: the state the phases share (counters, the join, the batchers, the repair writer). */
class DiffRun {
  private readonly schema: KeySchema;
  private readonly segments: readonly number[];
  private readonly totalSegments: number;
  private readonly readPrimary: NonNullable<DiffSide['getItems']>;
  private readonly readReplica: DiffSide['getItems'];
  private readonly sharded: boolean;
  private readonly settleMs: number;
  private readonly started = performance.now();
  private readonly abort = new AbortController();
  private readonly signal: AbortSignal;

  private readonly counts: DiscrepancyCounts = { missing: 0, different: 0, extraneous: 0, total: 0 };
  private readonly scanned = { primary: 0, replica: 0 };
  private rechecked = 0;
  private settled = 0;
  private repairedSoFar = 0;

  private readonly join: KeyJoin;
  private readonly recheckBatcher: Batcher<Pending>;
  /** Settle batches mostly sleep until they are due, so many may wait at once. */
  private readonly settleBatcher: Batcher<Pending>;
  /** Repairs: a bounded channel drained by the never-drop writer, running alongside everything else. */
  private readonly repairs: PageChannel<WriteRequest> | undefined;
  private readonly repairDone: Promise<{ written: number; retries: number }> | undefined;

  constructor(
    private readonly primary: DiffSide,
    private readonly replica: DiffSide,
    private readonly options: DiffTablesOptions,
  ) {
    assertSameKeySchema(primary.keySchema, replica.keySchema, [primary.label, replica.label]);
    ({ segments: this.segments, totalSegments: this.totalSegments } = segmentsToScan(options));
    this.readPrimary = lookupOf(primary);
    this.readReplica = replica.getItems?.bind(replica);
    if (replica.segmented === false && options.share) {
      throw new UsageError(
        `${replica.label} cannot be split into shares (--segment/--segments); compare it in one run (--parallel)`,
      );
    }
    this.schema = primary.keySchema;
    this.sharded = options.share !== undefined;
    this.settleMs = options.settleMs ?? 0;
    this.signal = options.signal ? AbortSignal.any([options.signal, this.abort.signal]) : this.abort.signal;
    this.join = new KeyJoin({
      ...(options.maxInMemory ? { maxInMemory: options.maxInMemory } : {}),
      ...(options.tempDir ? { tempDir: options.tempDir } : {}),
    });
    const batchSize = options.recheckBatchSize ?? DEFAULT_RECHECK_BATCH;
    const concurrency = options.recheckConcurrency ?? DEFAULT_RECHECK_CONCURRENCY;
    this.recheckBatcher = new Batcher<Pending>({
      batchSize,
      concurrency,
      maxWaitMs: RECHECK_MAX_WAIT_MS,
      process: async (batch) => {
        this.rechecked += batch.length;
        await this.judge(batch);
      },
    });
    this.settleBatcher = new Batcher<Pending>({
      batchSize,
      concurrency: Math.max(SETTLE_CONCURRENCY, concurrency),
      maxWaitMs: RECHECK_MAX_WAIT_MS,
      process: async (batch) => {
        const last = batch[batch.length - 1] as Pending;
        await sleep(Math.max(0, last.due - performance.now()), this.signal);
        await this.judge(batch);
      },
    });
    if (options.repair) {
      const repairs = new PageChannel<WriteRequest>(REPAIR_QUEUE);
      this.repairs = repairs;
      this.repairDone = options.repair.write(
        repairs,
        (written) => {
          this.repairedSoFar = written;
          this.progress();
        },
        this.signal,
      );
      this.repairDone.catch((error: unknown) => {
        repairs.fail(error);
        this.abort.abort(error);
      });
    }
  }

  async run(): Promise<DiffTablesResult> {
    try {
      await this.scanPhase();
      await this.joinPhase();
      await this.recheckBatcher.flush();
      await this.settleBatcher.flush();
      return await this.result();
    } catch (error) {
      this.abort.abort(error);
      this.repairs?.fail(error);
      // The writer's own failure (e.g. UnprocessedError listing keys) explains more than the abort it caused.
      if (this.repairDone) await this.repairDone.catch((writeError: unknown) => Promise.reject(writeError));
      throw error;
    } finally {
      this.join.close();
    }
  }

  private progress(): void {
    this.options.onProgress?.({
      scannedPrimary: this.scanned.primary,
      scannedReplica: this.scanned.replica,
      discrepancies: this.counts.total,
      repaired: this.repairedSoFar,
    });
  }

  // -- Phase 1: scan both sides into the join ---------------------------------------------------

  private async scanPhase(): Promise<void> {
    const { primary, replica, segments, totalSegments, signal } = this;
    const scans =
      replica.segmented === false
        ? [
            ...segments.map((s) => this.scanAlone('primary', primary.scanSegment(s, totalSegments, signal))),
            this.scanAlone('replica', replica.scanSegment(0, 1, signal)),
          ]
        : segments.map((s) => this.scanPair(s));
    await Promise.all(
      scans.map((scan) =>
        scan.catch((error: unknown) => {
          this.abort.abort(error);
          throw error;
        }),
      ),
    );
  }

  /**
   * Segment s of both sides, one page from each at a time, so the join's waiting set stays small.
   * The next pages are requested before the current ones are joined, so reading overlaps joining.
   */
  private async scanPair(segment: number): Promise<void> {
    const p = this.primary.scanSegment(segment, this.totalSegments, this.signal)[Symbol.asyncIterator]();
    const r = this.replica.scanSegment(segment, this.totalSegments, this.signal)[Symbol.asyncIterator]();
    const ended: Promise<IteratorResult<Item[]>> = Promise.resolve({ done: true, value: undefined });
    let nextP = p.next();
    let nextR = r.next();
    nextP.catch(() => undefined);
    nextR.catch(() => undefined);
    for (;;) {
      const [pp, rp] = await Promise.all([nextP, nextR]);
      if (pp.done && rp.done) return;
      nextP = pp.done ? ended : p.next();
      nextR = rp.done ? ended : r.next();
      // If joining fails below, these prefetches are never awaited: keep their errors handled.
      nextP.catch(() => undefined);
      nextR.catch(() => undefined);
      if (!pp.done) await this.ingest('primary', pp.value);
      if (!rp.done) await this.ingest('replica', rp.value);
    }
  }

  /** One side's pages on their own (a side that cannot be segmented, next to the other's segments). */
  private async scanAlone(side: Side, pages: AsyncIterable<Item[]>): Promise<void> {
    for await (const page of pages) await this.ingest(side, page);
  }

  private async ingest(side: Side, items: readonly Item[]): Promise<void> {
    for (const item of items) {
      const candidate = this.join.add(side, canonicalKey(keyOf(item, this.schema)), itemFingerprint(item));
      if (candidate) await this.recheck(candidate);
    }
    this.scanned[side] += items.length;
    this.progress();
  }

  // -- Phase 2: join what the scans left unmatched ------------------------------------------------

  private async joinPhase(): Promise<void> {
    for await (const candidate of this.join.finish()) await this.recheck(candidate);
  }

  // -- Phase 3: re-read candidates from both sides ------------------------------------------------

  private recheck(candidate: JoinCandidate): Promise<void> {
    return this.recheckBatcher.add({
      candidate,
      key: fromDynamoJson(JSON.parse(candidate.key), 'canonical key'),
      rounds: 0,
      due: 0,
    });
  }

  /**
   * Reads a batch of keys from both sides at once; returns their current images by canonical key.
   * A snapshot replica (no lookup) is not read: its scanned fingerprints are final.
   */
  private async readBoth(batch: readonly Pending[]) {
    const keys = batch.map((p) => p.key);
    const [p, r] = await Promise.all([
      this.readPrimary(keys, this.signal),
      this.readReplica?.(keys, this.signal),
    ]);
    const byKey = (items: Item[]) =>
      new Map(items.map((item) => [canonicalKey(keyOf(item, this.schema)), item]));
    return { primary: byKey(p), replica: r && byKey(r) };
  }

  /** The difference between the primary's current item and the replica, read again or as scanned. */
  private kindOf(
    p: Pending,
    primaryItem: Item | undefined,
    replicaItems: Map<string, Item> | undefined,
  ): DiscrepancyKind | undefined {
    if (replicaItems) return classify(primaryItem, replicaItems.get(p.candidate.key));
    const scanned = p.candidate.replicaFingerprint;
    if (primaryItem === undefined) return scanned === undefined ? undefined : 'extraneous';
    if (scanned === undefined) return 'missing';
    return itemFingerprint(primaryItem) === scanned ? undefined : 'different';
  }

  // -- Phase 4: settle - judge each key, looking again later while it may still be replicating ----

  /** Decides each key of a batch from fresh reads: equal, report, or (settling) look again later. */
  private async judge(batch: readonly Pending[]): Promise<void> {
    const current = await this.readBoth(batch);
    for (const p of batch) {
      const primaryItem = current.primary.get(p.candidate.key);
      const replicaItem = current.replica?.get(p.candidate.key);
      const kind = this.kindOf(p, primaryItem, current.replica);
      // In a share, a key our primary segment did not hold belongs to another share unless the
      // primary has no such item at all.
      if (kind === undefined || (this.sharded && !p.candidate.inPrimary && kind !== 'extraneous')) {
        if (p.rounds > 0) this.settled++;
        continue;
      }
      const stillChanging = p.rounds > 0 && !itemsEqual(p.primary, primaryItem);
      if (this.settleMs > 0 && (p.rounds === 0 || (stillChanging && p.rounds < MAX_SETTLE_ROUNDS))) {
        // A settle batch re-queuing its own keys must not wait for a settle slot (it holds one).
        await this.settleBatcher.add(
          {
            ...p,
            rounds: p.rounds + 1,
            due: performance.now() + this.settleMs,
            ...(primaryItem ? { primary: primaryItem } : {}),
          },
          p.rounds === 0,
        );
        continue;
      }
      await this.report(kind, p, primaryItem, replicaItem);
    }
  }

  // -- Phase 5: report, and repair ------------------------------------------------------------------

  private async report(
    kind: DiscrepancyKind,
    p: Pending,
    primaryItem?: Item,
    replicaItem?: Item,
  ): Promise<void> {
    this.counts[kind]++;
    this.counts.total++;
    await this.options.onDiscrepancy?.({
      kind,
      key: p.key,
      keyText: p.candidate.key,
      ...(primaryItem ? { primary: primaryItem } : {}),
      ...(replicaItem ? { replica: replicaItem } : {}),
    });
    // A closed channel means the writer failed; its error is what the run reports.
    if (this.repairs && !(await this.repairs.push(primaryItem ? { put: primaryItem } : { delete: p.key }))) {
      throw this.signal.reason;
    }
    this.progress();
  }

  private async result(): Promise<DiffTablesResult> {
    this.repairs?.close();
    const written = await this.repairDone;
    return {
      scanned: { ...this.scanned },
      rechecked: this.rechecked,
      discrepancies: this.counts,
      settled: this.settled,
      ...(written ? { repaired: { written: written.written, retries: written.retries } } : {}),
      seconds: (performance.now() - this.started) / 1000,
      join: this.join.stats,
    };
  }
}

export interface BackfillOptions {
  readonly parallel?: number;
  readonly share?: Share;
  readonly onProgress?: (p: DiffProgress) => void;
  readonly signal?: AbortSignal;
}

export interface BackfillResult {
  readonly scanned: number;
  readonly written: number;
  readonly retries: number;
  readonly seconds: number;
}

/**
 * `--backfill`: copies every primary item onto the replica without reading the replica (puts only;
 * nothing is deleted). Used to seed an empty or partial replica; a plain diff afterwards proves it.
 */
/** A repair target as a copy target: pages go to its writePages, or item by item to write(). */
function sinkOf(target: RepairTarget): WriteSink {
  if (target.writePages) return { label: target.label, writePages: target.writePages.bind(target) };
  return {
    label: target.label,
    writePages: (pages, onProgress, signal) =>
      target.write(
        (async function* () {
          for await (const page of pages) yield* page;
        })(),
        onProgress,
        signal,
      ),
  };
}

export async function backfill(
  primary: DiffSide,
  target: RepairTarget,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  const { segments, totalSegments } = segmentsToScan(options);
  const onProgress = options.onProgress;
  const result = await copyItems(
    (signal) =>
      mergePages(
        segments.map((segment) => (s: AbortSignal) => primary.scanSegment(segment, totalSegments, s)),
        signal,
      ),
    [sinkOf(target)],
    {
      ...(onProgress
        ? {
            onProgress: (p: CopyProgress) =>
              onProgress({
                scannedPrimary: p.scanned,
                scannedReplica: 0,
                discrepancies: 0,
                repaired: p.written,
              }),
          }
        : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  return {
    scanned: result.scanned,
    written: result.written,
    retries: result.retries,
    seconds: result.seconds,
  };
}
