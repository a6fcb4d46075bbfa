import type { Command } from '../command.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'Export a table to NDJSON (description line, then one item per line), optionally gzip',
  help: `Usage: dynamodb-replicator export <location> [file] [--parallel K] [--json]

Writes the table description (DescribeTable's "Table") as the first line, then every item as one
line of DynamoDB JSON (numbers as exact strings, binary as base64). Without a file the export goes
to stdout. A file whose name ends in .gz is gzip-compressed. The file appears only when the export
is complete (it is written under a temporary name and renamed).

Arguments:
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]
  file      where to write; omit or "-" for stdout

Options:
  --parallel K          scan K segments concurrently (default 4)
  --read-budget RCU     at most RCU read capacity units per second (default: no limit)
  --consistent-read     strongly consistent reads
  --json                print the summary as JSON (on stdout when writing a file, else stderr)
  --debug               print stack traces on errors

Progress is shown on stderr when it is a terminal; the final count is printed on stderr.`,
  options: {
    parallel: { type: 'string' },
    'read-budget': { type: 'string' },
    'consistent-read': { type: 'boolean' },
  },
  positionals: [1, 2],
  run: (args, io) => import('./export.run.js').then((m) => m.run(args, io)),
};
