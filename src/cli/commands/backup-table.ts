import { JOB_HELP, JOB_OPTIONS } from '../job-options.js';
import { STORE_OPTIONS, LOCATION_HELP, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const backupTableCommand: Command = {
  name: 'backup-table',
  summary: "Full backup of a table in DynamoDB's Export-to-S3 layout (parallel, multi-process)",
  help: `Usage: dynamodb-replicator backup-table <source> <location> [--jobid ID] [--segment N --segments M] [--parallel K] [--json]
       dynamodb-replicator backup-table <source> s3://bucket/prefix --native [--incremental [--from TIME] [--to TIME]] [--json]

Scans the table in parallel into <location>/AWSDynamoDB/<jobid>/ in the layout of DynamoDB's own
Export to S3: data/*.json.gz ({"Item":{...}} lines in DynamoDB JSON), manifest-files.json (item
count and MD5 per data file), manifest-summary.json, plus table-description.json. Several processes
can share one backup: run each with the same --jobid and --segments M and its own --segment N; the
backup is complete (and restorable) once all M have finished. Exits 2 if anything fails.

--native has DynamoDB export the table itself (ExportTableToPointInTime: no read capacity used,
priced per GB; the table needs point-in-time recovery) into <location>, an S3 location kept as a
change log: a full export becomes a base snapshot (<location>/snapshots/<id>/AWSDynamoDB/...), an
--incremental export (new and old images) of the changes since the last one becomes part of the
log (<location>/incremental/AWSDynamoDB/..., indexed in <location>/exports/). The command waits for
the export, verifies every data file (MD5, counts, keys, times) and only then indexes it, so
restore, restore --at and diff-tables --against-backup read it; an export that fails (FAILED, or
verification) is never indexed. An --incremental run holds the log's lease (<location>/runs/) from
before it picks its window until the export is indexed or fails; a second one meanwhile (a schedule,
another person) exports nothing and exits 2 with "skipped: run <id> in progress since <time>". A
lease left by a run that crashed ends after --export-timeout plus an hour, and is then taken over.

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
  --native                 a native DynamoDB export to S3 instead of a scan (see above)
  --incremental            with --native: export the changes since the log's last export or base
  --from TIME              with --incremental: window start (default: where the last one ended)
  --to TIME                with --incremental: window end (default: DynamoDB's latest data; AWS
                           accepts windows of 15 minutes to 24 hours)
  --export-timeout DUR     with --native: stop waiting after DUR, e.g. 90m (default 2h)
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
    native: { type: 'boolean' },
    incremental: { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    'export-timeout': { type: 'string' },
    ...STORE_OPTIONS,
  },
  positionals: [2, 2],
  run: (args, io) => import('./backup-table.run.js').then((m) => m.run(args, io)),
};
