import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const incrementalDiffRecordCommand: Command = {
  name: 'incremental-diff-record',
  summary: 'Compare one item in a table with its latest state in the change log',
  help: `Usage: dynamodb-replicator incremental-diff-record <table> <location> <key> [--json]

Reads the item from the table (strongly consistent) and its latest state in the change log at
<location> (its last logged change, or its item in the newest snapshot if it never changed since),
prints both in DynamoDB JSON and whether they are equal (sets ignore order, numbers compare by
value, binary by bytes).

Arguments:
  table      region/table, host:port/table or http(s)://host:port/table[?region=r]
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL
  key        the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json     print {"key","equal","table","backup","backupSource"} as one JSON object
${STORE_HELP}
  --debug    print stack traces on errors

Exit codes: 0 equal (or absent from both), 1 different, 2 error.`,
  options: { ...STORE_OPTIONS },
  positionals: [3, 3],
  run: (args, io) => import('./incremental-diff-record.run.js').then((m) => m.run(args, io)),
};
