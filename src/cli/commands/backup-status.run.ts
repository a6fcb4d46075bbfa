// The `backup-status` command itself, loaded only when it runs (its spec and help are in backup-status.ts).
import { backupCoverage, type BackupCoverage } from '../../backup/coverage.js';
import { formatTime } from '../../core/time.js';
import { stringOption, writeJson, type CliIO, type ParsedArgs } from '../command.js';
import { closing } from '../locations.js';
import { openBackupStore } from '../backup-store.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const table = stringOption(args, 'table');
  const backup = openBackupStore(args.positionals[0] as string, args, io);
  return closing([backup], async () => {
    const coverage = await backupCoverage(backup.store, table !== undefined ? { table } : {});
    if (args.values.json === true) writeJson(io, coverage);
    else io.stdout.write(coverageText(coverage));
    return 0;
  });
}

/** The coverage as lines for a person (times UTC, with epoch ms). */
export function coverageText(c: BackupCoverage): string {
  const time = (ms: number | undefined) => (ms === undefined ? '-' : formatTime(ms));
  const lines = [
    `change log   ${c.location}${c.table !== undefined ? ` (table ${c.table})` : ''}`,
    `restorable   ${c.coveredFrom === undefined ? 'no base snapshot yet: run incremental-backfill' : `from ${time(c.coveredFrom)}`}`,
    `first change ${time(c.firstChange)}`,
    `last change  ${time(c.lastChange)}`,
    `objects      ${c.objects} (${c.segments} change segments, ${c.bytes} bytes)`,
    `snapshots    ${c.snapshots.length}`,
    ...c.snapshots.map(
      (s) =>
        `  ${s.id}  ${s.kind.padEnd(10)}  ${s.itemCount} items, started ${time(s.startedAt)}, complete ${time(s.completedAt)}`,
    ),
    `gaps         ${c.gaps.length}`,
    ...c.gaps.map(
      (g) => `  changes from ${time(g.lossFrom)} until ${time(g.detectedAt)} may be missing (${g.reason})`,
    ),
    ...(c.hole
      ? [
          `hole         ${new Date(c.hole.from).toISOString()} – ${new Date(c.hole.to).toISOString()}: no stream segment or export window covers it; no time after ${new Date(c.hole.from).toISOString()} is restorable from the newest base until it is exported (backup-table --native --incremental --from ${new Date(c.hole.from).toISOString()} --to ${new Date(c.hole.to).toISOString()})`,
        ]
      : []),
  ];
  return lines.join('\n') + '\n';
}
