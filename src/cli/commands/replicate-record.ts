import type { Command } from '../command.js';

export const replicateRecordCommand: Command = {
  name: 'replicate-record',
  summary: 'Copy one item from the primary to the replica (or delete it there if the primary has none)',
  help: `Usage: dynamodb-replicator replicate-record <primary> <replica> <key> [--json]

Reads the item from the primary with a strongly consistent read and puts it on the replica; when
the primary has no such item, deletes it from the replica. Unprocessed writes are retried; a write
that still fails is an error (exit 2).

Arguments:
  primary   region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica   same forms; must have the primary's key schema
  key       the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json    print {"key","action"} as one JSON object
  --debug   print stack traces on errors`,
  options: {},
  positionals: [3, 3],
  run: (args, io) => import('./replicate-record.run.js').then((m) => m.run(args, io)),
};
