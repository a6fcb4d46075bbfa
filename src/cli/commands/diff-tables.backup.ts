// `diff-tables <table> <backup> --against-backup` in one process (loaded by diff-tables.run.ts only
// then: a diff of two tables needs no object store).
import { resolveRestoreSource } from '../../backup/restore-source.js';
import { snapshotSide } from '../../diff/backup-side.js';
import { assertSameKeySchema, describeTable } from '../../dynamodb/tables.js';
import { openBackupStore } from '../backup-store.js';
import { stringOption, type CliIO, type ParsedArgs } from '../command.js';
import { closing, openTable } from '../locations.js';
import { timeOption } from '../time-option.js';
import { compareAndReport, readBudget, sideOf, type CompareOptions } from './diff-tables.run.js';

/**
 * `diff-tables <table> <backup-location> --against-backup`: the table against the backup's state
 * (the newest complete full backup or export, or a change log's latest state). The backup is
 * verified (checksums, counts) before the comparison starts.
 */
export async function againstBackup(
  io: CliIO,
  args: ParsedArgs,
  tableText: string,
  backupText: string,
  o: Omit<CompareOptions, 'repair'>,
): Promise<number> {
  const table = openTable(tableText, io);
  const backup = openBackupStore(backupText, args, io);
  return closing([table.client, backup], async () => {
    const info = await describeTable(table.client, table.table);
    const jobId = stringOption(args, 'jobid');
    const at = timeOption(args, 'at');
    const source = await resolveRestoreSource(backup.store, {
      keySchema: info.keySchema,
      ...(jobId ? { jobId } : {}),
      ...(at !== undefined ? { at } : {}),
    });
    if (source.keySchema) {
      assertSameKeySchema(info.keySchema, source.keySchema, [`table ${table.label}`, source.label]);
    }
    const primary = sideOf({ ...table, info }, readBudget(args));
    return compareAndReport(io, args, primary, snapshotSide(source, info.keySchema), o);
  });
}
