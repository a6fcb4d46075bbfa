import type { Command } from '../command.js';
import { STORE_HELP, STORE_OPTIONS } from '../store-options.js';

export const scanTaskCommand: Command = {
  name: 'scan-task',
  summary: 'Run the segment tasks of a scan job (what --workers forks; also to add workers by hand)',
  help: `Usage: dynamodb-replicator scan-task --work LOC --job ID [--worker I --workers N | --segment S] [--time-budget D] [--item-budget N] [--json]

Runs segment tasks of the scan job LOC/<ID>/ (started by backup-table, copy, diff-tables or restore
with --work) through the same task code the --workers children and the Lambda run: each task
resumes from its last committed state, runs in slices of at most the budget, and commits after each.
A segment another live process is running is skipped (it is told apart by its claim). This command
does not merge: re-run the command that started the job (same --work and --job) to merge.
Prints one line per segment finished (JSON lines with --json); exits 2 on any failure.

Options:
  --work LOC               where the job's state lives (s3://bucket/prefix or a directory)
  --job ID                 the job
  --worker I               with --workers N: run segments I, I+N, I+2N, ... (default: all segments)
  --workers N              the number of workers sharing the job
  --segment S              run segment S only
  --time-budget D          a slice stops and commits after D (e.g. 30s, 5m; default: no limit)
  --item-budget N          ... or after N items (checked per page; default: no limit)
  --read-budget RCU        this process's read capacity units per second on each table it reads
                           (default: no limit)
  --write-budget WCU       this process's write capacity units per second (default: no limit)
${STORE_HELP}
  --json                   print JSON lines
  --debug                  print stack traces on errors`,
  options: {
    work: { type: 'string' },
    job: { type: 'string' },
    worker: { type: 'string' },
    workers: { type: 'string' },
    segment: { type: 'string' },
    'time-budget': { type: 'string' },
    'item-budget': { type: 'string' },
    'read-budget': { type: 'string' },
    'write-budget': { type: 'string' },
    ...STORE_OPTIONS,
  },
  positionals: [0, 0],
  run: (args, io) => import('./scan-task.run.js').then((m) => m.run(args, io)),
};
