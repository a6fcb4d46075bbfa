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

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
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

/** Backup and restore of one table in child processes: rates and their peak memory. */
async function roundTrip(ctx: BenchContext, table: string, dir: string) {
  const backup = await runChild(['backup', ctx.endpoint, table, dir]);
  const target = await ctx.createEmptyTable('bench-restore');
  const restore = await runChild(['restore', ctx.endpoint, target, dir]);
  await ctx.dropTable(target);
  return { backup, restore };
}

/**
 * Full backup (parallel scan -> export layout on the filesystem) as a ratio of the raw parallel scan,
 * restore into an empty table as a ratio of the raw write ceiling (ceilings also re-measured right
 * before each step, to cancel the drift of a shared machine), and peak memory of both at 10,000
 * items and at BENCH_BACKUP_LARGE_ITEMS (default 200,000): it should stay flat.
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

      const memory: Record<string, unknown> = {};
      const large = Number(process.env.BENCH_BACKUP_LARGE_ITEMS ?? '200000');
      for (const count of [10_000, large]) {
        const table = await ctx.createEmptyTable('bench-memory');
        await rawBatchWrite(ctx.client, table, count);
        const r = await roundTrip(ctx, table, path.join(dir, `memory-${count}`));
        await ctx.dropTable(table);
        memory[String(count)] = {
          backupMaxRssMb: r.backup.maxRssMb,
          backupHeapHighWaterMb: r.backup.heapHighWaterMb,
          restoreMaxRssMb: r.restore.maxRssMb,
          restoreHeapHighWaterMb: r.restore.heapHighWaterMb,
          backupItemsPerSecond: Math.round(count / r.backup.seconds),
          restoreItemsPerSecond: Math.round(count / r.restore.seconds),
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
        memory,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
