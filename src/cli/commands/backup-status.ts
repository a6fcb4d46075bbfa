import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const backupStatusCommand: Command = {
  name: 'backup-status',
  summary: "Show a change log's coverage: base snapshots, first and last change, gaps, objects",
  help: `Usage: dynamodb-replicator backup-status <location> [--table NAME] [--json]

Shows what the change log at <location> covers: its base snapshots (a restore can rebuild any
moment from the first snapshot's completion on), the first and last logged change, recorded gaps
(changes that may be missing: a restore refuses those moments until a later base snapshot), and how
many objects and bytes it holds. Reads the listing and small records only, never the whole log.
Times are UTC. Exit 2 when <location> is not a change log, its parts belong to different tables, or
it is not the log of --table.

Arguments:
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL

Options:
  --table NAME   refuse the log unless it belongs to table NAME
  --json         print {"location","table","snapshots":[{id,kind,startedAt,completedAt,itemCount}],
                 "coveredFrom","firstChange","lastChange","gaps":[{lossFrom,detectedAt,reason}],
                 "segments","objects","bytes"} (times in epoch milliseconds; absent when unknown)
${STORE_HELP}
  --debug        print stack traces on errors`,
  options: { table: { type: 'string' }, ...STORE_OPTIONS },
  positionals: [1, 1],
  run: (args, io) => import('./backup-status.run.js').then((m) => m.run(args, io)),
};
