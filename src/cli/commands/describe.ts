import type { Command } from '../command.js';

export const describeCommand: Command = {
  name: 'describe',
  summary: "Print a table's description (DescribeTable) as JSON",
  help: `Usage: dynamodb-replicator describe <location> [--json]

Prints the table's description as DynamoDB's DescribeTable returns it (the "Table" object).

Arguments:
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --json   one compact line instead of indented JSON
  --debug  print stack traces on errors`,
  options: {},
  positionals: [1, 1],
  run: (args, io) => import('./describe.run.js').then((m) => m.run(args, io)),
};
