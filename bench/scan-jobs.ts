/**
 * Scan jobs: how the merge's cost grows with the number of segments. For each segment count S
 * (env BENCH_JOB_SEGMENTS, default 100,1000,4000) a backup job of a small table (2,000 items) is
 * planned and every segment run in-process (4 segments at a time), then the merge (which lists the
 * job folder, reads every segment's final state, writes the export manifests and removes orphans)
 * is timed five times on the same folder (the merge is repeatable: it writes the same manifests);
 * the fastest of the five is the figure (a shared machine only ever adds time). Reported: merge
 * milliseconds at each S, and for each step to the next S the ratio of merge times next to the
 * ratio of segment counts (linear: the merge ratio is at most the segment ratio; a fixed cost per
 * merge — writing the manifests — makes it smaller at small S). Also the tasks' own run time per
 * segment, for scale. The data is not the point (2,000 items), the bookkeeping is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { cachedJobEnvironment } from '../src/jobs/environment.js';
import { mergeJob, planJob, runSegment } from '../src/jobs/tasks.js';
import { rawBatchWrite } from './baselines.js';
import { median, round, type BenchContext, type BenchSuite } from './context.js';

const TABLE_ITEMS = 2_000;

function segmentCounts(): number[] {
  const raw = process.env.BENCH_JOB_SEGMENTS ?? '100,1000,4000';
  const counts = raw.split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`BENCH_JOB_SEGMENTS: bad list "${raw}"`);
  return counts;
}

async function oneCount(ctx: BenchContext, table: string, segments: number) {
  const env = cachedJobEnvironment();
  const work = mkdtempSync(path.join(tmpdir(), 'bench-job-work-'));
  const backup = mkdtempSync(path.join(tmpdir(), 'bench-job-backup-'));
  try {
    const jobId = `bench-${segments}`;
    const plan = await planJob(
      { work, kind: 'backup', segments, jobId, params: { table: `${ctx.endpoint}/${table}`, backup } },
      { env },
    );
    const started = performance.now();
    const limit = pLimit(4);
    await Promise.all(plan.tasks.map((task) => limit(() => runSegment(task, { env }))));
    const taskSeconds = (performance.now() - started) / 1000;
    const mergeMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const merged = await mergeJob({ work, jobId }, { env });
      mergeMs.push(performance.now() - t);
      if ((merged.result as { itemCount?: number }).itemCount !== TABLE_ITEMS)
        throw new Error(`merge of ${segments} segments counted ${JSON.stringify(merged.result)}`);
    }
    return { segments, taskSeconds, mergeMs: Math.min(...mergeMs), mergeMedianMs: median(mergeMs) };
  } finally {
    env.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  }
}

export const scanJobsSuite: BenchSuite = {
  name: 'scan-jobs',
  async run(ctx: BenchContext) {
    const table = await ctx.createEmptyTable('bench-jobs');
    await rawBatchWrite(ctx.client, table, TABLE_ITEMS);
    const rows: Awaited<ReturnType<typeof oneCount>>[] = [];
    for (const segments of segmentCounts()) {
      const row = await oneCount(ctx, table, segments);
      process.stderr.write(
        `bench scan-jobs: ${segments} segments: tasks ${row.taskSeconds.toFixed(1)} s, merge ${row.mergeMs.toFixed(0)} ms\n`,
      );
      rows.push(row);
    }
    await ctx.dropTable(table);
    const steps = rows.slice(1).map((r, i) => {
      const prev = rows[i] as (typeof rows)[number];
      return {
        segments: `${prev.segments} -> ${r.segments}`,
        segmentRatio: round(r.segments / prev.segments, 1),
        mergeRatio: round(r.mergeMs / prev.mergeMs, 2),
        marginalMsPerSegment: round((r.mergeMs - prev.mergeMs) / (r.segments - prev.segments), 3),
      };
    });
    return {
      tableItems: TABLE_ITEMS,
      segments: rows.map((r) => r.segments),
      mergeMs: rows.map((r) => Math.round(r.mergeMs)),
      mergeMedianMs: rows.map((r) => Math.round(r.mergeMedianMs)),
      steps,
      taskMsPerSegment: rows.map((r) => round((r.taskSeconds * 1000) / r.segments, 1)),
      target: 'mergeRatio <= segmentRatio at every step (the merge grows at most linearly)',
    };
  },
};
