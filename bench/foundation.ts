import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../src/cli/run.js';
import { rawBatchWrite } from './baselines.js';
import { round, type BenchContext, type BenchSuite } from './context.js';

/** Runs a CLI command in-process; returns its wall time and its stdout. Throws on a non-zero exit. */
export async function timedCli(
  argv: string[],
): Promise<{ seconds: number; cpuSeconds: number; stdout: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const code = await runCli(argv, { stdout: out, stderr: err, env: process.env });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  if (code !== 0) throw new Error(`${argv[0]} exited ${code}: ${stderr}`);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, stdout };
}

/**
 * The table CLI against the ceilings: `copy` (scan + write) and `import` as ratios of the raw write
 * ceiling, `export` as a ratio of the raw scan ceiling. Wall time of the whole command, start-up
 * and DescribeTable included. `copy` is also compared with a raw write of the same items made just
 * before it, which cancels most of the drift of a shared, noisy machine.
 */
export const foundationSuite: BenchSuite = {
  name: 'foundation',
  async run(ctx: BenchContext) {
    const { endpoint, items, baselines } = ctx;
    const at = (table: string) => `${endpoint}/${table}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-foundation-'));
    try {
      // A raw write of the same items right before the copy: the ceiling at this moment of the run.
      const rawTarget = await ctx.createEmptyTable('bench-raw');
      const adjacentCeiling = await rawBatchWrite(ctx.client, rawTarget, items);
      await ctx.dropTable(rawTarget);
      const copyTarget = await ctx.createEmptyTable('bench-copy');
      const copy = await timedCli(['copy', at(ctx.sourceTable), at(copyTarget), '--json']);
      const copied = JSON.parse(copy.stdout) as { items: number };
      if (copied.items !== items) throw new Error(`copy wrote ${copied.items} of ${items} items`);
      await ctx.dropTable(copyTarget);
      const copyRate = items / copy.seconds;

      const file = path.join(dir, 'export.ndjson');
      const exported = await timedCli(['export', at(ctx.sourceTable), file]);
      const exportRate = items / exported.seconds;

      const importTarget = await ctx.createEmptyTable('bench-import');
      const imported = await timedCli(['import', file, at(importTarget), '--json']);
      const importRate = items / imported.seconds;
      await ctx.dropTable(importTarget);

      return {
        items,
        copyItemsPerSecond: Math.round(copyRate),
        copyVsWriteCeiling: round(copyRate / baselines.writeItemsPerSecond),
        adjacentWriteCeiling: Math.round(adjacentCeiling),
        copyVsAdjacentWriteCeiling: round(copyRate / adjacentCeiling),
        copyTarget: 0.9,
        // Node's own CPU time during the copy: how much of the 2-core machine the client side takes.
        copyNodeCpuSeconds: round(copy.cpuSeconds, 1),
        copySeconds: round(copy.seconds, 1),
        exportItemsPerSecond: Math.round(exportRate),
        exportVsScanCeiling: round(exportRate / baselines.scanItemsPerSecond),
        importItemsPerSecond: Math.round(importRate),
        importVsWriteCeiling: round(importRate / baselines.writeItemsPerSecond),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
