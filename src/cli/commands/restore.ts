import { JOB_HELP, JOB_OPTIONS } from '../job-options.js';
import { WRITE_BUDGET_OPTIONS } from '../budgets.js';
import { STORE_OPTIONS } from '../store-options.js';
import type { Command } from '../command.js';
import { WRITE_BUDGET_HELP } from '../budgets.js';
import { LOCATION_HELP, STORE_HELP } from '../store-options.js';

export const restoreCommand: Command = {
  name: 'restore',
  summary:
    'Restore a table from a full backup, AWS export or change log (--at TIME), writing only what differs',
  help: `Usage: dynamodb-replicator restore <location> <target> [--create] [--dry-run] [--write-budget WCU] [--json]

Makes <target> hold exactly the backed-up state: items that are missing or different are put,
items the backup does not have are deleted, identical items are left alone. Every data file's MD5
and item count is verified against the manifests before anything is written or created; a corrupt
or truncated backup is refused (exit 2) and the target is left untouched.

<location> is a backup location holding AWSDynamoDB/<id>/ folders (the newest complete backup is
used unless --jobid names one) or an export folder itself; AWS's own exports (DYNAMODB_JSON) work too.
It may also be one table's change log (see incremental-backfill): its latest state, or with --at TIME
the state at TIME (base snapshot + logged changes up to TIME, by creation time and sequence number).

Arguments:
  ${LOCATION_HELP}
  target    region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --create                 create the target from the backup's table description if it does not exist
  --dry-run                print the plan's counts (puts, deletes, unchanged) and write nothing
  --jobid ID               restore this backup job / export id under <location>/AWSDynamoDB/
  --at TIME                (change logs) restore the state at TIME: ISO 8601 or epoch milliseconds
  --parallel K             BatchWriteItem requests in flight (default 8)
${WRITE_BUDGET_HELP}
  --read-budget RCU        at most RCU read capacity units per second comparing against the target
                           (default: no limit)
${STORE_HELP}
  --json                   print the result as JSON on stdout
  --debug                  print stack traces on errors

${JOB_HELP}`,
  options: {
    ...JOB_OPTIONS,
    segments: { type: 'string' },
    create: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    jobid: { type: 'string' },
    at: { type: 'string' },
    parallel: { type: 'string' },
    'read-budget': { type: 'string' },
    ...WRITE_BUDGET_OPTIONS,
    ...STORE_OPTIONS,
  },
  positionals: [2, 2],
  run: (args, io) => import('./restore.run.js').then((m) => m.run(args, io)),
};
