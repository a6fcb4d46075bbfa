import type { Command } from '../command.js';
import { closing, openTable } from '../locations.js';
import { describeTable } from '../../dynamodb/tables.js';

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
  async run(args, io) {
    const { client, table } = openTable(args.positionals[0] as string, io);
    const info = await closing([client], () => describeTable(client, table));
    io.stdout.write(JSON.stringify(info.description, null, args.values.json ? undefined : 2) + '\n');
    return 0;
  },
};
