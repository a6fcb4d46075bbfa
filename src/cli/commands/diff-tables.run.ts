// The `diff-tables` command itself, loaded only when it runs (its spec and help are in diff-tables.ts).
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { type Writable } from 'node:stream';
import { UsageError } from '../../core/errors.js';
import { toDynamoJson } from '../../core/ddb-json.js';
import { CapacityBudget } from '../../dynamodb/capacity.js';
import { writeText } from '../../dynamodb/export-file.js';
import { assertSameKeySchema, describeTable, type TableInfo } from '../../dynamodb/tables.js';
import { segmentShareOption } from '../segments.js';
import { backfill, diffTables, type Discrepancy, type Share } from '../../diff/diff-tables.js';
import { diffSummary, formatDiffSummary, reportLine } from '../../diff/report.js';
import { tableSide, tableTarget, type DiffSide, type RepairTarget } from '../../diff/side.js';
import { intOption, numberOption, stringOption, writeJson, type CliIO, type ParsedArgs } from '../command.js';
import { parseDuration } from '../duration.js';
import { closing, openTable, type OpenTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { jobRunOptions } from '../job-options.js';
import { PRIVATE_FILE_MODE } from '../../storage/local-files.js';
import { groupMemberSide } from '../../diff/group-side.js';
import type { GroupMetadataNames } from '../../replicate/group-stamp.js';
import { parseMetadataNames } from '../group-options.js';

export interface OpenPair {
  readonly primary: OpenTable & { readonly info: TableInfo };
  readonly replica: OpenTable & { readonly info: TableInfo };
}

/**
 * Parses both table locations, refuses the same table twice, describes both (NotFoundError naming a
 * missing one) and refuses different key schemas — all before any item is read.
 */
export async function openPair(
  command: string,
  io: CliIO,
  primaryText: string,
  replicaText: string,
  run: (pair: OpenPair) => Promise<number>,
): Promise<number> {
  const primary = openTable(primaryText, io);
  const replica = openTable(replicaText, io);
  if (primary.label === replica.label) {
    throw new UsageError(`${command}: the primary and the replica are the same table (${primary.label})`);
  }
  return closing([primary.client, replica.client], async () => {
    const [p, r] = await Promise.all([
      describeTable(primary.client, primary.table),
      describeTable(replica.client, replica.table),
    ]);
    assertSameKeySchema(p.keySchema, r.keySchema, [`primary ${primary.label}`, `replica ${replica.label}`]);
    return run({ primary: { ...primary, info: p }, replica: { ...replica, info: r } });
  });
}

export function sideOf(t: OpenPair['primary'], budget?: CapacityBudget): DiffSide {
  return tableSide(t.client, t.table, t.info.keySchema, {
    label: t.label,
    ...(budget ? { budget } : {}),
    ...(t.info.itemCount !== undefined ? { itemCountEstimate: t.info.itemCount } : {}),
  });
}

export function targetOf(t: OpenPair['replica']): RepairTarget {
  return tableTarget(t.client, t.table, { label: t.label, keySchema: t.info.keySchema });
}

/** This process's share of the diff (`--segment I --segments N`); undefined compares whole tables. */
function shareOption(args: ParsedArgs): Share | undefined {
  const share = segmentShareOption(args);
  if (share && args.values.parallel !== undefined) {
    throw new UsageError(
      '--parallel cannot be combined with --segment/--segments: each process scans exactly its one segment; use more segments (processes) instead',
    );
  }
  return share;
}

/** One read budget per table (each table has its own capacity), from --read-budget and --items-per-second. */
export function readBudget(args: ParsedArgs): CapacityBudget | undefined {
  const unitsPerSecond = numberOption(args, 'read-budget');
  const itemsPerSecond = numberOption(args, 'items-per-second');
  if (unitsPerSecond === undefined && itemsPerSecond === undefined) return undefined;
  return new CapacityBudget({ unitsPerSecond, itemsPerSecond });
}

async function openReport(file: string | undefined): Promise<Writable | undefined> {
  if (file === undefined) return undefined;
  const out = createWriteStream(file, { mode: PRIVATE_FILE_MODE });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) =>
      reject(new UsageError(`--report: cannot write ${file}: ${error.message}`, { cause: error }));
    out.once('error', onError);
    out.once('open', () => {
      out.off('error', onError);
      resolve();
    });
  });
  return out;
}

async function closeReport(out: Writable | undefined): Promise<void> {
  if (!out) return;
  out.end();
  await once(out, 'finish');
}

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const job = jobRunOptions(args);
  if (job) return import('./diff-tables.job.js').then((m) => m.diffJob(args, io, job));
  const repair = args.values.repair === true;
  if (args.values.backfill === true && !repair) {
    throw new UsageError(
      '--backfill writes every primary item to the replica; add --repair to confirm (nothing was written)',
    );
  }
  const group = groupNames(args);
  const share = shareOption(args);
  const parallel = intOption(args, 'parallel', undefined, { min: 1, max: 1000 });
  const settleText = stringOption(args, 'settle');
  const settleMs = settleText === undefined ? 0 : parseDuration(settleText, 'settle');
  const [primaryText, replicaText] = args.positionals as [string, string];
  const reportFile = stringOption(args, 'report');
  const scope = { ...(share ? { share } : {}), ...(parallel ? { parallel } : {}) };
  if (args.values['against-backup'] === true) {
    if (repair || share) {
      throw new UsageError(
        '--against-backup compares a table with a backup: --repair, --backfill and --segment/--segments do not apply',
      );
    }
    return import('./diff-tables.backup.js').then((m) =>
      m.againstBackup(io, args, primaryText, replicaText, { scope, settleMs, reportFile }),
    );
  }
  return openPair('diff-tables', io, primaryText, replicaText, async (pair) => {
    const view = (side: DiffSide): DiffSide => (group ? groupMemberSide(side, group) : side);
    const primary = view(sideOf(pair.primary, readBudget(args)));
    if (args.values.backfill === true) return runBackfill(io, args, primary, targetOf(pair.replica), scope);
    const replica = view(sideOf(pair.replica, readBudget(args)));
    return compareAndReport(io, args, primary, replica, {
      scope,
      settleMs,
      reportFile,
      ...(repair ? { repair: targetOf(pair.replica) } : {}),
    });
  });
}

/** --group-metadata: the names of the group's metadata attributes; undefined without it. */
function groupNames(args: ParsedArgs): GroupMetadataNames | undefined {
  const names = stringOption(args, 'metadata-attributes');
  if (args.values['group-metadata'] !== true) {
    if (names !== undefined) throw new UsageError('--metadata-attributes applies with --group-metadata only');
    return undefined;
  }
  for (const other of ['repair', 'backfill', 'against-backup'])
    if (args.values[other] === true)
      throw new UsageError(
        `--group-metadata compares what applications see; it cannot be combined with --${other}`,
      );
  return parseMetadataNames(names);
}

export interface CompareOptions {
  readonly scope: { share?: Share; parallel?: number };
  readonly settleMs: number;
  readonly reportFile: string | undefined;
  readonly repair?: RepairTarget;
}

/** Runs the diff, writing report lines as discrepancies are confirmed, then the summary; returns the exit code. */
export async function compareAndReport(
  io: CliIO,
  args: ParsedArgs,
  primary: DiffSide,
  replica: DiffSide,
  o: CompareOptions,
): Promise<number> {
  const estimate = (primary.itemCountEstimate ?? 0) + (replica.itemCountEstimate ?? 0);
  const progress = progressReporter(io, `diff ${primary.label} ${replica.label}`, estimate || undefined);
  const report = await openReport(o.reportFile);
  const showItems = args.values['show-items'] === true;
  const json = args.values.json === true;
  const onDiscrepancy = async (d: Discrepancy) => {
    if (report) await writeText(report, reportLine(d, showItems));
    if (!json) await writeText(io.stdout, `${d.kind.padEnd(10)} ${JSON.stringify(toDynamoJson(d.key))}\n`);
  };
  try {
    const result = await diffTables(primary, replica, {
      ...o.scope,
      settleMs: o.settleMs,
      ...(o.repair ? { repair: o.repair } : {}),
      onDiscrepancy,
      onProgress: (p) => progress.update(p.scannedPrimary + p.scannedReplica),
    });
    progress.done();
    const summary = diffSummary({ primary: primary.label, replica: replica.label }, result, {
      repair: o.repair !== undefined,
      ...(replica.segmented === false ? { againstBackup: true } : {}),
      ...(o.scope.share ? { share: o.scope.share } : {}),
    });
    if (json) writeJson(io, summary);
    else io.stdout.write(formatDiffSummary(summary));
    return result.discrepancies.total > 0 ? 1 : 0;
  } finally {
    progress.done();
    await closeReport(report);
  }
}

async function runBackfill(
  io: CliIO,
  args: ParsedArgs,
  primary: DiffSide,
  target: RepairTarget,
  scope: { share?: Share; parallel?: number },
): Promise<number> {
  const progress = progressReporter(io, `backfill ${target.label}`, primary.itemCountEstimate);
  const result = await backfill(primary, target, {
    ...scope,
    onProgress: (p) => progress.update(p.repaired),
  }).finally(() => progress.done());
  const summary = {
    mode: 'backfill',
    primary: primary.label,
    replica: target.label,
    ...(scope.share ? { share: scope.share } : {}),
    scanned: result.scanned,
    written: result.written,
    retries: result.retries,
    seconds: result.seconds,
    itemsPerSecond: result.written / Math.max(result.seconds, 1e-9),
  };
  if (args.values.json === true) writeJson(io, summary);
  else {
    io.stdout.write(
      `backfilled ${result.written} items from ${primary.label} to ${target.label} in ${result.seconds.toFixed(1)} s ` +
        `(${Math.round(summary.itemsPerSecond)} items/s); run diff-tables without --backfill to verify\n`,
    );
  }
  return 0;
}
