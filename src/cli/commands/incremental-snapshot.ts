import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const incrementalSnapshotCommand: Command = {
  name: 'incremental-snapshot',
  summary: 'Compact a change log into a snapshot of the table at a moment, in the export layout',
  help: `Usage: dynamodb-replicator incremental-snapshot <location> <dest> [--at TIME] [--json]

Rebuilds the table as it was at TIME from the change log at <location> (its newest base snapshot
complete at TIME, plus every logged change created up to TIME, applied in order of creation time
and sequence number) and writes it to <dest>/AWSDynamoDB/<time>/ in DynamoDB's export layout, with
the table description and a snapshot.json. Every checksum and log segment is verified before
anything is written. Pass <location>/snapshots/<name> as <dest> to add the snapshot to the log as a
new base, which makes later restores read fewer changes.

Arguments:
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL
  dest       where to write the snapshot (same forms)

Options:
  --at TIME   ISO 8601 time (2026-11-27T09:30:00Z) or epoch milliseconds; default: now. Changes
              can reach the log a little after they happen: leave a few minutes for a complete one.
  --json      print the snapshot record and counts as JSON
${STORE_HELP}
  --debug     print stack traces on errors`,
  options: { at: { type: 'string' }, ...STORE_OPTIONS },
  positionals: [2, 2],
  run: (args, io) => import('./incremental-snapshot.run.js').then((m) => m.run(args, io)),
};
