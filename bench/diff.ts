/**
 * diff-tables throughput, repair throughput and memory, on two tables of one DynamoDB Local.
 *
 * - `equal`: the benchmark table against an identical copy, three rounds, each right after a raw
 *   parallel Scan of one table on the same server: keys compared per second as a ratio of that scan
 *   rate (median of the rounds). A full diff must read both tables, so 0.5x is the limit on one
 *   server; the target is >= 0.4x.
 * - `repairDifferent` / `repairMissing`: 10,000 replica items changed, then deleted, and repaired with
 *   a repair target. Different items are found during the scans (their writes share the server with
 *   the scans); missing ones at the end of the scans. The write phase (first acknowledged repair
 *   write to last) as a ratio of the raw BatchWriteItem ceiling measured just before (target
 *   >= 0.9x), and the whole run end to end (which includes scanning both tables).
 * - `memory`: peak heap growth and most join entries waiting in memory, for 50% and 100% of the
 *   data set: bounded by scan page size (1 MB) and segments, not by table size. (Below a few pages
 *   per segment, e.g. 5,000 small items, the whole table fits in the first pages and uses less.)
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { diffTables, type DiffTablesResult } from '../src/diff/diff-tables.js';
import { tableSide, tableTarget, type RepairTarget } from '../src/diff/side.js';
import { benchItem, rawBatchWrite, rawParallelScan } from './baselines.js';
import { median, round, type BenchContext, type BenchSuite } from './context.js';

const SCHEMA = { hash: { name: 'id', type: 'S' as const } };
const REPAIR_ITEMS = 10_000;
const PARALLEL = 4;

/** Samples heap use every 20 ms while `fn` runs; returns the peak growth over the start in MB. */
async function peakHeap<T>(fn: () => Promise<T>): Promise<{ value: T; peakHeapMb: number }> {
  global.gc?.();
  const start = process.memoryUsage().heapUsed;
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { value, peakHeapMb: round((peak - start) / 1024 / 1024, 1) };
  } finally {
    clearInterval(timer);
  }
}

function diff(ctx: BenchContext, primary: string, replica: string, repair?: RepairTarget) {
  return diffTables(tableSide(ctx.client, primary, SCHEMA), tableSide(ctx.client, replica, SCHEMA), {
    parallel: PARALLEL,
    ...(repair ? { repair } : {}),
  });
}

/** Every n-th benchmark item index, `count` of them. */
function spread(total: number, count: number): number[] {
  const step = Math.max(1, Math.floor(total / count));
  return Array.from({ length: count }, (_, i) => i * step);
}

/** Rewrites the given items of `table` so they differ from the benchmark items. */
async function changeItems(client: DynamoDBClient, table: string, indexes: readonly number[]): Promise<void> {
  await rawBatchWrite(client, table, indexes.length, (i) => ({
    ...benchItem(indexes[i] as number),
    payload: { S: `changed-${i}` },
  }));
}

/** Deletes the given items from `table` with plain BatchWriteItem calls. */
async function deleteItems(client: DynamoDBClient, table: string, indexes: readonly number[]): Promise<void> {
  for (let i = 0; i < indexes.length; i += 25) {
    let requests: Record<string, WriteRequest[]> = {
      [table]: indexes
        .slice(i, i + 25)
        .map((n) => ({ DeleteRequest: { Key: { id: benchItem(n).id } as never } })),
    };
    while (Object.keys(requests).length > 0) {
      requests =
        (await client.send(new BatchWriteItemCommand({ RequestItems: requests }))).UnprocessedItems ?? {};
    }
  }
}

/** A repair target that records when the first and last repair writes were acknowledged. */
function timedTarget(client: DynamoDBClient, table: string) {
  const inner = tableTarget(client, table, { keySchema: SCHEMA });
  const times = { first: 0, last: 0 };
  const target: RepairTarget = {
    label: table,
    write: (requests, onProgress, signal) =>
      inner.write(
        requests,
        (n) => {
          const now = performance.now();
          if (times.first === 0) times.first = now;
          times.last = now;
          onProgress?.(n);
        },
        signal,
      ),
  };
  return { target, times };
}

/**
 * Repairs `count` discrepancies made by `spoil`, measuring the write ceiling just before on a
 * scratch table. The write phase runs from the first acknowledged repair write to the last.
 */
async function measureRepair(
  ctx: BenchContext,
  replica: string,
  scratch: string,
  count: number,
  spoil: () => Promise<void>,
) {
  await spoil();
  const writeCeiling = await rawBatchWrite(ctx.client, scratch, count);
  const { target, times } = timedTarget(ctx.client, replica);
  const result = await diff(ctx, ctx.sourceTable, replica, target);
  if (result.repaired?.written !== count)
    throw new Error(`repair wrote ${result.repaired?.written} of ${count}`);
  const writePhase = (times.last - times.first) / 1000;
  return {
    rawWriteItemsPerSecond: Math.round(writeCeiling),
    writePhaseSeconds: round(writePhase),
    writesPerSecond: Math.round(count / writePhase),
    ratioToRawWrite: round(count / writePhase / writeCeiling),
    endToEndSeconds: round(result.seconds),
    endToEndRatioToRawWrite: round(count / result.seconds / writeCeiling),
  };
}

const ROUNDS = 3;

export const diffSuite: BenchSuite = {
  name: 'diff',
  async run(ctx) {
    const items = ctx.items;
    const replica = await ctx.createEmptyTable('bench-diff-replica');
    await rawBatchWrite(ctx.client, replica, items);
    const small = Math.max(100, Math.floor(items / 2));
    const smallPrimary = await ctx.createEmptyTable('bench-diff-small-p');
    const smallReplica = await ctx.createEmptyTable('bench-diff-small-r');
    const scratch = await ctx.createEmptyTable('bench-diff-scratch');
    await rawBatchWrite(ctx.client, smallPrimary, small);
    await rawBatchWrite(ctx.client, smallReplica, small);
    try {
      // The shared machine is noisy: each round measures the raw scan right before the diff.
      const rounds: Array<{ raw: number; keysPerSecond: number; ratio: number }> = [];
      let equal: Awaited<ReturnType<typeof peakHeap<DiffTablesResult>>> | undefined;
      for (let r = 0; r < ROUNDS; r++) {
        const scan = await rawParallelScan(ctx.client, ctx.sourceTable);
        equal = await peakHeap(() => diff(ctx, ctx.sourceTable, replica));
        if (equal.value.discrepancies.total !== 0) throw new Error('identical tables reported different');
        const keysPerSecond = items / equal.value.seconds;
        rounds.push({
          raw: Math.round(scan.itemsPerSecond),
          keysPerSecond: Math.round(keysPerSecond),
          ratio: round(keysPerSecond / scan.itemsPerSecond),
        });
      }
      const smallRun = await peakHeap(() => diff(ctx, smallPrimary, smallReplica));
      const last = equal as NonNullable<typeof equal>;

      const count = Math.min(REPAIR_ITEMS, items);
      const indexes = spread(items, count);
      const different = await measureRepair(ctx, replica, scratch, count, () =>
        changeItems(ctx.client, replica, indexes),
      );
      const missing = await measureRepair(ctx, replica, scratch, count, () =>
        deleteItems(ctx.client, replica, indexes),
      );
      const check = await diff(ctx, ctx.sourceTable, replica);
      if (check.discrepancies.total !== 0) throw new Error('repair left differences');
      return {
        items,
        equal: {
          ratioToOneTableRawScan: median(rounds.map((r) => r.ratio)),
          rounds,
          rechecked: last.value.rechecked,
          spilled: last.value.join.spilled,
          ratioToStartupScanCeiling: round(items / last.value.seconds / ctx.baselines.scanItemsPerSecond),
        },
        repairDifferent: { differing: count, ...different },
        repairMissing: { differing: count, ...missing },
        memory: {
          [`peakHeapMb_${small}`]: smallRun.peakHeapMb,
          [`peakHeapMb_${items}`]: last.peakHeapMb,
          [`peakWaiting_${small}`]: smallRun.value.join.peakWaiting,
          [`peakWaiting_${items}`]: last.value.join.peakWaiting,
        },
      };
    } finally {
      for (const t of [replica, smallPrimary, smallReplica, scratch]) await ctx.dropTable(t);
    }
  },
};
