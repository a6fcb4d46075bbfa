import { WRITE_BUDGET_OPTIONS } from '../budgets.js';
import type { Command } from '../command.js';
import { WRITE_BUDGET_HELP } from '../budgets.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/defaults.js';

export const importCommand: Command = {
  name: 'import',
  summary: 'Import an export file (plain or gzip) into a table',
  help: `Usage: dynamodb-replicator import <file | -> <location> [--create] [--parallel K] [--json]

Loads every item of an export (as written by \`export\`: a table description line, then one item
per line in DynamoDB JSON) into the table. Plain and gzip files are both accepted (gzip is detected
from the content, not the name); "-" reads stdin. Blank lines and CRLF line ends are ignored.

The whole input is checked before anything is written: a malformed line fails the import with its
line number and exit code 2, and the table is neither created nor written. (Stdin is first copied
to a temporary file so it can be checked the same way.) An existing table must have the key schema
of the export's description.

Arguments:
  file      an export file, or "-" for stdin
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --create                 create the table from the export's description if it does not exist
                           (without it, a missing table is an error)
  --parallel K             BatchWriteItem requests in flight (default ${DEFAULT_WRITE_CONCURRENCY})
${WRITE_BUDGET_HELP}
  --json                   print the summary as JSON on stdout
  --debug                  print stack traces on errors`,
  options: {
    create: { type: 'boolean' },
    parallel: { type: 'string' },
    ...WRITE_BUDGET_OPTIONS,
  },
  positionals: [2, 2],
  run: (args, io) => import('./import.run.js').then((m) => m.run(args, io)),
};
