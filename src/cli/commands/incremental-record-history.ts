import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const incrementalRecordHistoryCommand: Command = {
  name: 'incremental-record-history',
  summary: 'List every logged version of one item, oldest first',
  help: `Usage: dynamodb-replicator incremental-record-history <location> <key> [--since TIME] [--until TIME] [--json]

Prints every change of one item recorded in the change log at <location>, oldest first (by creation
time, then sequence number): its time, event name (INSERT, MODIFY, REMOVE) and the item after the
change in DynamoDB JSON. A batch delivered twice is listed once. The log is organised by time, so a
long log reads faster with --since/--until.

Arguments:
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL
  key        the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --since TIME   only changes created at or after TIME (ISO 8601 or epoch milliseconds)
  --until TIME   only changes created at or before TIME
  --json         print {"key","versions":[{time,isoTime,eventName,sequenceNumber,shardId,synthetic,image,oldImage}],
                 "gaps":[{lossFrom,detectedAt,reason}]} (recorded gaps in the range: versions may be missing)
${STORE_HELP}
  --debug        print stack traces on errors`,
  options: { since: { type: 'string' }, until: { type: 'string' }, ...STORE_OPTIONS },
  positionals: [2, 2],
  run: (args, io) => import('./incremental-record-history.run.js').then((m) => m.run(args, io)),
};
