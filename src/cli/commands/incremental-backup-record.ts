import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const incrementalBackupRecordCommand: Command = {
  name: 'incremental-backup-record',
  summary: "Write one item's current state into the change log",
  help: `Usage: dynamodb-replicator incremental-backup-record <table> <location> <key> [--json]

Reads the item from the table (strongly consistent) and appends its current state to the change
log at <location> as a change of its own (MODIFY with the item, or REMOVE when it does not exist),
timed now, in an object named after the key and the time. Use it to repair one item's backup;
record history lists it as recorded by this command. A log that belongs to another table or key
schema is refused: exit 2, nothing written.

Arguments:
  table      region/table, host:port/table or http(s)://host:port/table[?region=r]
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL
  key        the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json     print {"key","eventName","object","time"} as JSON
${STORE_HELP}
  --debug    print stack traces on errors`,
  options: { ...STORE_OPTIONS },
  positionals: [3, 3],
  run: (args, io) => import('./incremental-backup-record.run.js').then((m) => m.run(args, io)),
};
