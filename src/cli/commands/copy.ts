import { JOB_HELP, JOB_OPTIONS } from '../job-options.js';
import { WRITE_BUDGET_OPTIONS } from '../budgets.js';
import type { Command } from '../command.js';
import { WRITE_BUDGET_HELP } from '../budgets.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/defaults.js';

export const copyCommand: Command = {
  name: 'copy',
  summary: 'Copy every item of one table into another (parallel, with capacity budgets)',
  help: `Usage: dynamodb-replicator copy <source> <target> [--create] [--parallel K] [--write-budget WCU] [--json]

Scans the source in parallel and writes every item into the target with BatchWriteItem, retrying
unprocessed items (nothing is dropped). The target must exist with the source's key schema, or be
created with --create.

Arguments:
  source    region/table, host:port/table or http(s)://host:port/table[?region=r]
  target    same forms; may be in another region, account or endpoint

Options:
  --create                 create the target from the source's description if it does not exist
  --parallel K             scan segments and BatchWriteItem requests in flight (default ${DEFAULT_WRITE_CONCURRENCY})
${WRITE_BUDGET_HELP}
  --read-budget RCU        at most RCU read capacity units per second on the source (default: no limit)
  --consistent-read        strongly consistent reads on the source
  --json                   print the summary as JSON on stdout
  --debug                  print stack traces on errors

${JOB_HELP}`,
  options: {
    ...JOB_OPTIONS,
    segments: { type: 'string' },
    create: { type: 'boolean' },
    parallel: { type: 'string' },
    'read-budget': { type: 'string' },
    'consistent-read': { type: 'boolean' },
    ...WRITE_BUDGET_OPTIONS,
  },
  positionals: [2, 2],
  run: (args, io) => import('./copy.run.js').then((m) => m.run(args, io)),
};
