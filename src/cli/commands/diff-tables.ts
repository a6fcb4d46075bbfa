import { JOB_HELP, JOB_OPTIONS } from '../job-options.js';
import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const diffTablesCommand: Command = {
  name: 'diff-tables',
  summary: 'Compare a primary and a replica table item by item; --repair fixes the replica',
  help: `Usage: dynamodb-replicator diff-tables <primary> <replica | backup> [--repair] [--backfill] [--settle 2s] [--against-backup] [--report FILE] [--json]

Scans both tables side by side (the same segment of each at once), joins them by canonical key in
bounded memory, re-reads every key that does not match from both tables with a strongly consistent
read, and reports each differing key once as missing (only on the primary), different, or
extraneous (only on the replica). Equality is DynamoDB's: sets ignore order, numbers compare by
value ("1.50" = "1.5"), binary by bytes. Without --repair nothing is ever written.

Arguments:
  primary   region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica   same forms; must have the primary's key schema (with --against-backup: a backup
            location, s3://bucket/prefix or a directory)

Options:
  --repair                 fix the replica: put missing and different items from the primary,
                           delete extraneous ones (unprocessed writes are retried, never dropped)
  --backfill               with --repair: copy every primary item onto the replica without
                           comparing (no reads of the replica, no deletes); without --repair it is
                           refused, so nothing is written by accident
  --settle DURATION        re-check each difference after DURATION (e.g. 2s) and report it only if
                           it persists, so changes still replicating on a live pair are not drift
                           (default: report at once)
  --parallel K             segments scanned concurrently on each table (default 4)
  --segment N              compare only segment N (0-based) of --segments M, to split one diff
  --segments M             over several processes or machines; every key is examined by exactly
                           one of them
  --read-budget RCU        at most RCU read capacity units per second on each table (default: no limit)
  --items-per-second N     at most N items read per second from each table (default: no limit)
  --report FILE            write every discrepancy as a JSON line {"kind","key"} to FILE
  --show-items             include both items (DynamoDB JSON) in the report lines
  --against-backup         <replica> is a backup location (s3://bucket/prefix or a directory): compare
                           the table with the backup's state to prove the backup complete; missing =
                           only in the table, extraneous = only in the backup (read-only)
  --group-metadata         the tables are members of a multi-active group: leave the group's metadata
                           attributes out of the comparison and count tombstones as absent items
                           (docs/multi-active.md); not with --repair, --backfill or --against-backup
  --metadata-attributes STAMP,EXPIRES
                           with --group-metadata: the group's attribute names (default rep:v,rep:ttl)
  --jobid ID               with --against-backup: this backup job / export id (default: newest)
  --at TIME                with --against-backup on a change log: its state at TIME
${STORE_HELP}
  --json                   print the summary as one JSON object on stdout
  --debug                  print stack traces on errors

${JOB_HELP}
  With --against-backup, --work runs a verify-backup job: segment s reads table segment s and the
  backup's data files s, s+M, ...; each side's items are added into per-bucket digests (count and
  a 128-bit sum, buckets by key hash), so equal digests prove the table equal to the backup in one
  pass; buckets that differ are read again by drill-down jobs (<job>.drill-1, ...) that name each
  discrepancy exactly as the one-process form does. --repair, --settle, --parallel,
  --items-per-second and --show-items do not apply.

Output: without --json, each discrepancy as "<kind> <key>" and a summary; progress on stderr when
it is a terminal. Exit codes: 0 the tables are equal, 1 differences were found (with --repair: found
and repaired), 2 error (nothing found can be trusted).`,
  options: {
    ...JOB_OPTIONS,
    repair: { type: 'boolean' },
    backfill: { type: 'boolean' },
    settle: { type: 'string' },
    parallel: { type: 'string' },
    segment: { type: 'string' },
    segments: { type: 'string' },
    'read-budget': { type: 'string' },
    'items-per-second': { type: 'string' },
    report: { type: 'string' },
    'show-items': { type: 'boolean' },
    'against-backup': { type: 'boolean' },
    jobid: { type: 'string' },
    at: { type: 'string' },
    'group-metadata': { type: 'boolean' },
    'metadata-attributes': { type: 'string' },
    ...STORE_OPTIONS,
  },
  positionals: [2, 2],
  run: (args, io) => import('./diff-tables.run.js').then((m) => m.run(args, io)),
};
