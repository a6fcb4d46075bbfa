import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

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
  --read-budget RCU   at most RCU read capacity units per second (default: no limit)
  --json              print the snapshot record as JSON
${STORE_HELP}
  --debug             print stack traces on errors`,
  options: { parallel: { type: 'string' }, 'read-budget': { type: 'string' }, ...STORE_OPTIONS },
  positionals: [2, 2],
  run: (args, io) => import('./incremental-backfill.run.js').then((m) => m.run(args, io)),
};
