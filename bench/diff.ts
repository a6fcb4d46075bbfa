/**
 * diff-tables throughput, repair throughput and memory, on two tables of one DynamoDB Local.
 *
 * - `equal`: the benchmark table against an identical copy. Keys compared per second as a ratio of
 *   one table's raw parallel Scan rate, measured just before on the same server. A full diff must read
 *   both tables, so 0.5x is the limit on one server; the target is >= 0.4x.
 * - `repair`: the same pair after 10,000 replica items were changed: `--repair` finds and rewrites
 *   them. The write phase (first repair write to last) as a ratio of the raw BatchWriteItem ceiling
 *   (target >= 0.9x), and the whole run end to end.
 * - `memory`: peak heap growth during a diff of 10% and of 100% of the data set: it must stay flat.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from '../src/core/types.js';
import { diffTables, type DiffTablesResult } from '../src/diff/diff-tables.js';
import { tableSide, tableTarget, type RepairTarget } from '../src/diff/side.js';
import { benchItem, rawBatchWrite, rawParallelScan } from './baselines.js';
import { round, type BenchContext, type BenchSuite } from './context.js';

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

/** Changes `count` items of `table` (every n-th one) so they differ from the benchmark items. */
async function changeItems(
  client: DynamoDBClient,
  table: string,
  total: number,
  count: number,
): Promise<void> {
  const step = Math.floor(total / count);
  const changed = (i: number): Item => ({ ...benchItem(i * step), payload: { S: `changed-${i}` } });
  await rawBatchWrite(client, table, count, changed);
}

/** A repair target that records when the first and last repair writes happened. */
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

function rates(result: DiffTablesResult, items: number, scanItemsPerSecond: number) {
  const keysPerSecond = items / result.seconds;
  return {
    seconds: round(result.seconds),
    keysPerSecond: Math.round(keysPerSecond),
    ratioToOneTableRawScan: round(keysPerSecond / scanItemsPerSecond),
    rechecked: result.rechecked,
    spilled: result.join.spilled,
    peakWaiting: result.join.peakWaiting,
  };
}

export const diffSuite: BenchSuite = {
  name: 'diff',
  async run(ctx) {
    const items = ctx.items;
    const replica = await ctx.createEmptyTable('bench-diff-replica');
    await rawBatchWrite(ctx.client, replica, items);
    const small = Math.max(100, Math.floor(items / 10));
    const smallPrimary = await ctx.createEmptyTable('bench-diff-small-p');
    const smallReplica = await ctx.createEmptyTable('bench-diff-small-r');
    await rawBatchWrite(ctx.client, smallPrimary, small);
    await rawBatchWrite(ctx.client, smallReplica, small);
    try {
      // Fresh ceilings right before the measured runs (the run's start-up figures are in `baselines`).
      const scan = await rawParallelScan(ctx.client, ctx.sourceTable);
      const equal = await peakHeap(() => diff(ctx, ctx.sourceTable, replica));
      if (equal.value.discrepancies.total !== 0) throw new Error('identical tables reported different');
      const smallRun = await peakHeap(() => diff(ctx, smallPrimary, smallReplica));

      const repairCount = Math.min(REPAIR_ITEMS, items);
      await changeItems(ctx.client, replica, items, repairCount);
      const writeCeiling = await rawBatchWrite(ctx.client, smallReplica, small);
      const { target, times } = timedTarget(ctx.client, replica);
      const repaired = await diff(ctx, ctx.sourceTable, replica, target);
      if (repaired.repaired?.written !== repairCount) {
        throw new Error(`repair wrote ${repaired.repaired?.written} of ${repairCount}`);
      }
      const writePhase = (times.last - times.first) / 1000;
      const check = await diff(ctx, ctx.sourceTable, replica);
      if (check.discrepancies.total !== 0) throw new Error('repair left differences');
      return {
        items,
        rawScanItemsPerSecond: Math.round(scan.itemsPerSecond),
        rawWriteItemsPerSecond: Math.round(writeCeiling),
        equal: {
          ...rates(equal.value, items, scan.itemsPerSecond),
          ratioToStartupScanCeiling: round(items / equal.value.seconds / ctx.baselines.scanItemsPerSecond),
        },
        repair: {
          differing: repairCount,
          writePhaseSeconds: round(writePhase),
          writesPerSecond: Math.round(repairCount / writePhase),
          ratioToRawWrite: round(repairCount / writePhase / writeCeiling),
          endToEndSeconds: round(repaired.seconds),
          endToEndRatioToRawWrite: round(repairCount / repaired.seconds / writeCeiling),
        },
        memory: {
          [`peakHeapMb_${small}`]: smallRun.peakHeapMb,
          [`peakHeapMb_${items}`]: equal.peakHeapMb,
          [`peakWaiting_${small}`]: smallRun.value.join.peakWaiting,
          [`peakWaiting_${items}`]: equal.value.join.peakWaiting,
        },
      };
    } finally {
      for (const t of [replica, smallPrimary, smallReplica]) await ctx.dropTable(t);
    }
  },
};
