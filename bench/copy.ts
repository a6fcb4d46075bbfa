import { rawBatchWrite } from './baselines.js';
import { median, round, type BenchContext, type BenchSuite } from './context.js';
import { timedCli } from './foundation.js';

/** Rounds of the copy comparison (env BENCH_COPY_ROUNDS, default 5). */
function rounds(): number {
  const n = Number(process.env.BENCH_COPY_ROUNDS ?? '5');
  return Number.isInteger(n) && n >= 1 ? n : 5;
}

/** More `copy` options to compare settings (env BENCH_COPY_ARGS, e.g. "--parallel 12"). */
function extraArgs(): string[] {
  return (process.env.BENCH_COPY_ARGS ?? '').split(' ').filter((a) => a !== '');
}

/**
 * `copy` against the raw write ceiling measured right next to it: each round writes the items with
 * plain BatchWriteItem (8 requests in flight, items in memory) and copies the source table with the
 * CLI, alternating which goes first, so drift of a shared machine hits both sides alike. Reports the
 * per-round ratios and their median.
 */
export const copySuite: BenchSuite = {
  name: 'copy',
  async run(ctx: BenchContext) {
    const { endpoint, items } = ctx;
    const at = (table: string) => `${endpoint}/${table}`;
    const ratios: number[] = [];
    const rawSeconds: number[] = [];
    const copySeconds: number[] = [];
    const raw = async () => {
      const table = await ctx.createEmptyTable('bench-raw');
      const rate = await rawBatchWrite(ctx.client, table, items);
      await ctx.dropTable(table);
      return items / rate;
    };
    const copy = async () => {
      const table = await ctx.createEmptyTable('bench-copy');
      const { seconds, stdout } = await timedCli([
        'copy',
        at(ctx.sourceTable),
        at(table),
        '--json',
        ...extraArgs(),
      ]);
      const copied = JSON.parse(stdout) as { items: number };
      if (copied.items !== items) throw new Error(`copy wrote ${copied.items} of ${items} items`);
      await ctx.dropTable(table);
      return seconds;
    };
    for (let i = 0; i < rounds(); i++) {
      let r: number;
      let c: number;
      if (i % 2 === 0) {
        r = await raw();
        c = await copy();
      } else {
        c = await copy();
        r = await raw();
      }
      rawSeconds.push(round(r, 2));
      copySeconds.push(round(c, 2));
      ratios.push(round(r / c));
      process.stderr.write(`bench copy: round ${i + 1}: raw ${r.toFixed(2)} s, copy ${c.toFixed(2)} s\n`);
    }
    return {
      items,
      rawWriteSeconds: rawSeconds,
      copySeconds,
      copyVsAdjacentWriteCeiling: ratios,
      medianCopyVsAdjacentWriteCeiling: median(ratios),
      target: 0.9,
    };
  },
};
