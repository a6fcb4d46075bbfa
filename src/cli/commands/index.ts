import type { Command } from '../command.js';
import { backupStatusCommand } from './backup-status.js';
import { backupTableCommand } from './backup-table.js';
import { bundleCommand } from './bundle.js';
import { conflictsCommand } from './conflicts.js';
import { copyCommand } from './copy.js';
import { describeCommand } from './describe.js';
import { diffRecordCommand } from './diff-record.js';
import { diffTablesCommand } from './diff-tables.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { incrementalBackfillCommand } from './incremental-backfill.js';
import { incrementalBackupRecordCommand } from './incremental-backup-record.js';
import { incrementalDiffRecordCommand } from './incremental-diff-record.js';
import { incrementalRecordHistoryCommand } from './incremental-record-history.js';
import { incrementalSnapshotCommand } from './incremental-snapshot.js';
import { replicateRecordCommand } from './replicate-record.js';
import { replicateCommand } from './replicate.js';
import { restoreCommand } from './restore.js';
import { scanCommand } from './scan.js';
import { scanTaskCommand } from './scan-task.js';
import { tablesCommand } from './tables.js';
import { templateCommand } from './template.js';

/**
 * Every subcommand of the `dynamodb-replicator` binary. Each lives in its own module next to this
 * file; add one import and one entry per command.
 */
export const COMMANDS: readonly Command[] = [
  tablesCommand,
  describeCommand,
  scanCommand,
  exportCommand,
  importCommand,
  copyCommand,
  diffTablesCommand,
  diffRecordCommand,
  replicateRecordCommand,
  replicateCommand,
  conflictsCommand,
  backupTableCommand,
  restoreCommand,
  incrementalBackfillCommand,
  incrementalSnapshotCommand,
  incrementalRecordHistoryCommand,
  incrementalDiffRecordCommand,
  incrementalBackupRecordCommand,
  backupStatusCommand,
  scanTaskCommand,
  templateCommand,
  bundleCommand,
];
