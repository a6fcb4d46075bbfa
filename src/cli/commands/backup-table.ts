import { JOB_HELP, JOB_OPTIONS } from '../job-options.js';
import { STORE_OPTIONS, LOCATION_HELP, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const backupTableCommand: Command = {
  name: 'backup-table',
  summary: "Full backup of a table in DynamoDB's Export-to-S3 layout (parallel, multi-process)",
  help: `Usage: dynamodb-replicator backup-table <source> <location> [--jobid ID] [--segment N --segments M] [--parallel K] [--json]

Scans the table in parallel into <location>/AWSDynamoDB/<jobid>/ in the layout of DynamoDB's own
Export to S3: data/*.json.gz ({"Item":{...}} lines in DynamoDB JSON), manifest-files.json (item
count and MD5 per data file), manifest-summary.json, plus table-description.json. Several processes
can share one backup: run each with the same --jobid and --segments M and its own --segment N; the
backup is complete (and restorable) once all M have finished. Exits 2 if anything fails.

Arguments:
  source    region/table, host:port/table or http(s)://host:port/table[?region=r]
  ${LOCATION_HELP}

Options:
  --jobid ID               the backup's id (default: <epoch ms>-<random>); required with --segments
  --segment N              this process's share, 0 <= N < M (with --segments)
  --segments M             the number of processes sharing the backup (default 1)
  --parallel K             scan segments read concurrently by this process (default 4)
  --items-per-file N       start a new data file after N items (default 500000)
  --read-budget RCU        at most RCU read capacity units per second (default: no limit)
  --consistent-read        strongly consistent scan
${STORE_HELP}
  --json                   print the result as JSON on stdout
  --debug                  print stack traces on errors

${JOB_HELP}`,
  options: {
    ...JOB_OPTIONS,
    jobid: { type: 'string' },
    segment: { type: 'string' },
    segments: { type: 'string' },
    parallel: { type: 'string' },
    'items-per-file': { type: 'string' },
    'read-budget': { type: 'string' },
    'consistent-read': { type: 'boolean' },
    ...STORE_OPTIONS,
  },
  positionals: [2, 2],
  run: (args, io) => import('./backup-table.run.js').then((m) => m.run(args, io)),
};
