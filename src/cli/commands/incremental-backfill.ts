import { incrementalBackfill } from '../../backup/snapshots.js';
import { formatTime } from '../../core/time.js';
import { describeTable } from '../../dynamodb/tables.js';
import { readBudgetOption } from '../budgets.js';
import { intOption, writeJson, type Command } from '../command.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { openBackupStore, STORE_HELP, STORE_OPTIONS } from '../backup-store.js';

export const incrementalBackfillCommand: Command = {
  name: 'incremental-backfill',
  summary: "Seed a table's change log with a base snapshot of the table's current items",
  help: `Usage: dynamodb-replicator incremental-backfill <source> <location> [--parallel K] [--read-budget RCU] [--json]

Scans the table (parallel scan) into <location>/snapshots/<time>/ in DynamoDB's export layout, with
its table description, and records the snapshot as a base of the change log at <location>. A log
started on a table that already holds data can then be restored to any moment from the end of the
scan on. Start the \`backup\` Lambda handler (or \`replicate --backup\`) first, so the log records
every change made while the scan runs. A log that belongs to another table or key schema (its
log.json, or its snapshots and segments) is refused: exit 2, nothing written.

Arguments:
  source     region/table, host:port/table or http(s)://host:port/table[?region=r]
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL

Options:
  --parallel K        scan segments read concurrently (default 4)
  --read-budget RCU   at most RCU read capacity units per second
  --json              print the snapshot record as JSON
${STORE_HELP}
  --debug             print stack traces on errors`,
  options: { parallel: { type: 'string' }, 'read-budget': { type: 'string' }, ...STORE_OPTIONS },
  positionals: [2, 2],
  async run(args, io) {
    const [sourceText, locationText] = args.positionals as [string, string];
    const source = openTable(sourceText, io);
    const backup = openBackupStore(locationText, args, io);
    const { store, label } = backup;
    const parallel = intOption(args, 'parallel', 4, { min: 1, max: 1000 });
    const budget = readBudgetOption(args);
    return closing([source.client, backup], async () => {
      const info = await describeTable(source.client, source.table);
      const progress = progressReporter(io, `backfill ${source.label}`, info.itemCount);
      const snapshot = await incrementalBackfill(source.client, store, {
        table: source.table,
        ...(parallel !== undefined ? { parallel } : {}),
        ...(budget ? { budget } : {}),
        onProgress: (n) => progress.update(n),
      });
      progress.done();
      if (args.values.json === true) writeJson(io, { location: label, snapshot });
      else
        io.stdout.write(
          `snapshot ${snapshot.id}: ${snapshot.itemCount} items of ${source.label} in ${label}/snapshots/${snapshot.id}\n` +
            `restorable from ${formatTime(snapshot.completedAt)}\n`,
        );
      return 0;
    });
  },
};
