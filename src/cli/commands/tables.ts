import type { Command } from '../command.js';

export const tablesCommand: Command = {
  name: 'tables',
  summary: 'List the tables in a region or at an endpoint',
  help: `Usage: dynamodb-replicator tables [region | host:port | http(s)://host:port][?profile=p] [--json]

Lists the table names, one per line.

Arguments:
  region or endpoint  e.g. us-east-1, localhost:8000, http://localhost:8000?region=eu-west-1,
                      eu-west-1?profile=prod, ?profile=prod; default: the region of AWS_REGION,
                      AWS_DEFAULT_REGION or the profile

Options:
  --json   print a JSON array of names
  --debug  print stack traces on errors`,
  options: {},
  positionals: [0, 1],
  run: (args, io) => import('./tables.run.js').then((m) => m.run(args, io)),
};
