import type { Command } from '../command.js';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'Print every item of a table as NDJSON (DynamoDB JSON)',
  noJson: 'its output is already one JSON item per line',
  help: `Usage: dynamodb-replicator scan <location> [--parallel K] [--segment I --segments N] [--consistent-read]

Prints one item per line in DynamoDB JSON (numbers as exact strings, binary as base64).

Arguments:
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --parallel K          scan segments read concurrently by this process (default 1)
  --segment I           scan only share I (0-based) of --segments N, to split the scan over several
  --segments N          processes or machines (as in diff-tables and backup-table)
  --consistent-read     strongly consistent reads
  --debug               print stack traces on errors`,
  options: {
    parallel: { type: 'string' },
    segment: { type: 'string' },
    segments: { type: 'string' },
    'total-segments': { type: 'string' },
    'consistent-read': { type: 'boolean' },
  },
  positionals: [1, 1],
  run: (args, io) => import('./scan.run.js').then((m) => m.run(args, io)),
};
