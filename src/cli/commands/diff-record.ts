import type { Command } from '../command.js';

export const diffRecordCommand: Command = {
  name: 'diff-record',
  summary: 'Show one item on the primary and on the replica, and whether they are equal',
  help: `Usage: dynamodb-replicator diff-record <primary> <replica> <key> [--json]

Reads the item with a strongly consistent read from both tables and prints both images in DynamoDB
JSON, side by side, and whether they are equal (sets ignore order, numbers compare by value, binary
by bytes).

Arguments:
  primary   region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica   same forms; must have the primary's key schema
  key       the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json    print {"key","equal","kind","primary","replica"} as one JSON object
  --debug   print stack traces on errors

Exit codes: 0 equal (or absent from both), 1 different, missing or extraneous, 2 error.`,
  options: {},
  positionals: [3, 3],
  run: (args, io) => import('./diff-record.run.js').then((m) => m.run(args, io)),
};
