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
 *
 * Also verification against a backup on the shared source table (BENCH_ITEMS items): a full backup
 * of it, then `diff-tables --against-backup` in one process (diffTables, 4 parallel table segments
 * next to the backup read as one stream) and as a verify-backup job of 4 segments run 4 at a time in
 * this process (equal sides: one phase). Reported: each form's items/s over both sides, the job's
 * seconds as a ratio of the one-process form's, and both against the raw parallel scan.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { cachedJobEnvironment } from '../src/jobs/environment.js';
import { mergeJob, planJob, runSegment } from '../src/jobs/tasks.js';
import { backupTable } from '../src/backup/full-backup.js';
import { resolveRestoreSource } from '../src/backup/restore-source.js';
import { snapshotSide } from '../src/diff/backup-side.js';
import { diffTables } from '../src/diff/diff-tables.js';
import { tableSide } from '../src/diff/side.js';
import { describeTable } from '../src/dynamodb/tables.js';
import { openObjectStore } from '../src/storage/open-store.js';
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

/** One-process diff against a backup versus the verify-backup job, on the same table and backup. */
async function verifyAgainstBackup(ctx: BenchContext) {
  const backup = mkdtempSync(path.join(tmpdir(), 'bench-verify-backup-'));
  const work = mkdtempSync(path.join(tmpdir(), 'bench-verify-work-'));
  const env = cachedJobEnvironment();
  try {
    await backupTable(ctx.client, openObjectStore(backup), { table: ctx.sourceTable });
    const { keySchema } = await describeTable(ctx.client, ctx.sourceTable);
    let t = performance.now();
    const source = await resolveRestoreSource(openObjectStore(backup), { keySchema });
    const one = await diffTables(
      tableSide(ctx.client, ctx.sourceTable, keySchema),
      snapshotSide(source, keySchema),
      {
        parallel: 4,
      },
    );
    const oneSeconds = (performance.now() - t) / 1000;
    if (one.discrepancies.total !== 0) throw new Error('the one-process diff found discrepancies');
    t = performance.now();
    const plan = await planJob(
      {
        work,
        kind: 'verify-backup',
        segments: 4,
        params: { table: `${ctx.endpoint}/${ctx.sourceTable}`, backup },
      },
      { env },
    );
    await Promise.all(plan.tasks.map((task) => runSegment(task, { env })));
    const merged = await mergeJob({ work, jobId: plan.jobId }, { env });
    const jobSeconds = (performance.now() - t) / 1000;
    const result = merged.result as { next?: unknown; scanned: { primary: number; replica: number } };
    if (result.next !== undefined || result.scanned.primary !== ctx.items)
      throw new Error(`the verify job did not prove the sides equal: ${JSON.stringify(result)}`);
    const both = 2 * ctx.items;
    return {
      oneProcessItemsPerSecond: Math.round(both / oneSeconds),
      jobItemsPerSecond: Math.round(both / jobSeconds),
      jobSecondsRatio: round(jobSeconds / oneSeconds, 2),
      oneProcessVsRawScan: round(both / oneSeconds / ctx.baselines.scanItemsPerSecond, 2),
      jobVsRawScan: round(both / jobSeconds / ctx.baselines.scanItemsPerSecond, 2),
    };
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
      verifyAgainstBackup: await verifyAgainstBackup(ctx),
    };
  },
};
