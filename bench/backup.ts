import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawBatchWrite, rawParallelScan } from './baselines.js';
import { round, type BenchContext, type BenchSuite } from './context.js';

interface ChildResult {
  readonly items: number;
  readonly seconds: number;
  readonly verifySeconds: number;
  readonly maxRssMb: number;
  readonly heapHighWaterMb: number;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'backup-child.ts');

/**
 * V8 old-space cap (MB) for the scale points: a backup or restore of 1,000,000 items finishing under
 * the same cap as one of 10,000 shows memory does not grow with the table (an uncapped V8 just
 * collects later, so its high water drifts up with run time; that drift is not retained memory).
 */
const SCALE_HEAP_CAP_MB = 96;

function runChild(args: string[], heapCapMb?: number): Promise<ChildResult> {
  const flags = heapCapMb ? [`--max-old-space-size=${heapCapMb}`] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`backup-child ${args[0]} exited ${code}: ${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildResult);
    });
  });
}

function scalePoints(): number[] {
  const raw = process.env.BENCH_SCALE ?? '10000,100000,1000000';
  const points = raw.split(',').map((p) => Number(p.trim()));
  if (points.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`BENCH_SCALE must be a comma list of item counts, got "${raw}"`);
  return points;
}

/** Backup and restore of one table in child processes: rates and their peak memory. */
async function roundTrip(ctx: BenchContext, table: string, dir: string, heapCapMb?: number) {
  const backup = await runChild(['backup', ctx.endpoint, table, dir], heapCapMb);
  const target = await ctx.createEmptyTable('bench-restore');
  const restore = await runChild(['restore', ctx.endpoint, target, dir], heapCapMb);
  await ctx.dropTable(target);
  return { backup, restore };
}

/**
 * Full backup (parallel scan -> export layout on the filesystem) as a ratio of the raw parallel scan,
 * restore into an empty table as a ratio of the raw write ceiling (ceilings also re-measured right
 * before each step, to cancel the drift of a shared machine); then scale points (env BENCH_SCALE,
 * default 10,000, 100,000 and 1,000,000 items): time, ratios and peak memory of both. Memory is bounded
 * by pages in flight (4 segments x ~2 pages of 1 MB for a backup, 8 write requests for a restore),
 * not by table size: below a few full pages per segment (10,000 small items) it is lower, and from
 * there on it should stay flat.
 */
export const backupSuite: BenchSuite = {
  name: 'backup',
  async run(ctx: BenchContext) {
    const { items, baselines } = ctx;
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-backup-'));
    try {
      const adjacentScan = await rawParallelScan(ctx.client, ctx.sourceTable);
      const main = await roundTrip(ctx, ctx.sourceTable, path.join(dir, 'main'));
      if (main.backup.items !== items || main.restore.items !== items)
        throw new Error(`backup ${main.backup.items} / restore ${main.restore.items} of ${items} items`);
      const rawTarget = await ctx.createEmptyTable('bench-raw');
      const adjacentWrite = await rawBatchWrite(ctx.client, rawTarget, items);
      await ctx.dropTable(rawTarget);
      const backupRate = items / main.backup.seconds;
      const restoreRate = items / main.restore.seconds;
      const restoreWriteRate = items / (main.restore.seconds - main.restore.verifySeconds);

      // Scale points: how time and memory grow with the work. Loading each table is its own raw
      // write baseline (same size, same server state); its raw scan is measured right after.
      const scale: Record<string, unknown> = {};
      for (const count of scalePoints()) {
        const table = await ctx.createEmptyTable('bench-scale');
        const rawWrite = await rawBatchWrite(ctx.client, table, count);
        const rawScan = await rawParallelScan(ctx.client, table);
        const r = await roundTrip(ctx, table, path.join(dir, `scale-${count}`), SCALE_HEAP_CAP_MB);
        await ctx.dropTable(table);
        if (r.backup.items !== count || r.restore.items !== count)
          throw new Error(`scale ${count}: backup ${r.backup.items} / restore ${r.restore.items}`);
        scale[String(count)] = {
          heapCapMb: SCALE_HEAP_CAP_MB,
          backupSeconds: round(r.backup.seconds, 1),
          backupVsRawScan: round(count / r.backup.seconds / rawScan.itemsPerSecond),
          backupMaxRssMb: r.backup.maxRssMb,
          backupHeapHighWaterMb: r.backup.heapHighWaterMb,
          restoreSeconds: round(r.restore.seconds, 1),
          restoreVsRawWrite: round(count / r.restore.seconds / rawWrite),
          restoreMaxRssMb: r.restore.maxRssMb,
          restoreHeapHighWaterMb: r.restore.heapHighWaterMb,
        };
      }
      return {
        items,
        backupItemsPerSecond: Math.round(backupRate),
        backupVsRawScan: round(backupRate / baselines.scanItemsPerSecond),
        backupVsAdjacentRawScan: round(backupRate / adjacentScan.itemsPerSecond),
        restoreItemsPerSecond: Math.round(restoreRate),
        restoreVsRawWrite: round(restoreRate / baselines.writeItemsPerSecond),
        restoreVsAdjacentRawWrite: round(restoreRate / adjacentWrite),
        restoreVerifySeconds: round(main.restore.verifySeconds, 2),
        restoreWritePhaseVsRawWrite: round(restoreWriteRate / baselines.writeItemsPerSecond),
        scale,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
