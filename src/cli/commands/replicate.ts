import type { Command } from '../command.js';
import { WRITE_BUDGET_HELP, WRITE_BUDGET_OPTIONS } from '../budgets.js';
import { STORE_HELP, STORE_OPTIONS } from '../store-options.js';
import { VERIFY_HELP, VERIFY_OPTIONS } from '../verify-option.js';

/** `replicate --help` (docs/cli.md is generated from it). */
export const REPLICATE_HELP = `Usage: dynamodb-replicator replicate <source> <replica> [<replica>...] [options]
       dynamodb-replicator replicate <source> --backup LOCATION [options]   (back up only)
       dynamodb-replicator replicate --multi-active <member> <member> [<member>...] [options]

Reads the source table's DynamoDB stream (it must be enabled, NEW_IMAGE or NEW_AND_OLD_IMAGES unless
--read-through) and applies every change to each replica: the same engine as the Lambda handler,
without Lambda. Shards are read parent before child, several at once, each in order; the position is
checkpointed behind the applies and never passes a change that is not on every replica, so a
restart resumes where it stopped (at least once). SIGINT/SIGTERM finish the batches in flight,
checkpoint and exit 0. The checkpoint is held under a lease: a second runner on it exits 2 naming
the holder (or waits, with --wait-for-lease), and a runner that loses its lease stops (exit 2).

Arguments:
  source     region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica    same forms; must exist with the source's key schema. Without any replica, --backup is
             required and the runner only keeps the change log (its default checkpoint file is
             .dynamodb-replicator/<source table>.backup.checkpoint.json)

Options:
  --checkpoint FILE        checkpoint file (default .dynamodb-replicator/<source table>.checkpoint.json,
                           mode 0600; a very long table name is cut and followed by its hash)
  --checkpoint-table LOC   keep the checkpoint in a DynamoDB table instead (hash key "id" S)
  --wait-for-lease         when another runner holds the checkpoint, wait as a standby and take
                           over once it stops (file: its process ends; table: its lease is
                           released or expires) instead of exiting 2
  --lease-duration DUR     --checkpoint-table only: how long the lease lasts without renewal
                           (default 20s; renewed every quarter of it, and no write to a replica in
                           its last quarter)
  --from WHERE             first start without a checkpoint: trim-horizon (default, everything the
                           stream still holds) or latest (only changes from now on)
  --backfill               copy every existing item first, then replay the stream from a position
                           recorded before the copy (no change is lost; see the README on the 24-hour
                           stream retention)
  --parallel K             shards read at once, and scan segments for --backfill (default 4)
${WRITE_BUDGET_HELP}
                           (both apply to the --backfill copy)
  --transform MODULE       a module exporting transform(change) -> change | null (drop)
  --turnover-role ROLE     BEFORE or AFTER: the cut-over filter, with --turnover-at
  --turnover-at TIME       cut-over instant, ISO 8601 or epoch milliseconds
  --backup LOCATION        also append every change to the change log at LOCATION/<source table>
                           (s3://bucket/prefix, a directory or file:// URL; the layout the backup
                           Lambda handler writes), one segment per stream page per shard, before the
                           page is applied; see incremental-backfill and restore --at. With
                           --backfill (or a resync), a second scan beside the copy writes the log's
                           base snapshot, so the log can be restored on its own
${STORE_HELP}
  --read-through           read the current item from the source (consistent read) instead of
                           taking the stream's new image; required for KEYS_ONLY/OLD_IMAGE streams
  --on-gap WHAT            when changes were trimmed from the stream before being applied: stop
                           (default, exit 2) or resync (backfill, then continue)
  --stop-when-idle DUR     exit 0 once caught up and no change arrived for DUR (e.g. 5s; default:
                           run until SIGINT/SIGTERM)
  --stats-every DUR        how often to print records/s and lag (default 5s)
  --metrics-port PORT      serve a status page on http://127.0.0.1:PORT/ (lag p50/p99 and records/s
                           over the last 15 minutes, shards, gaps, last checkpoint, the change log's
                           coverage with --backup), the figures as Prometheus text on /metrics, the
                           page's data on /status.json, and a liveness probe on /healthz (200 while
                           the runner runs)
${VERIFY_HELP}
  --json                   print stats and the final summary as JSON lines on stdout
  --debug                  print stack traces on errors

Multi-active group (docs/multi-active.md): with --multi-active, every argument is a member; each
member's changes are written to every other member (conditional writes: the higher version wins
everywhere; every conflict is logged). One direction per ordered pair of members, each with its own
checkpoint file and lock. Members need NEW_AND_OLD_IMAGES streams and one key schema; enable TTL on
the expires attribute. Works with --parallel, --stop-when-idle, --stats-every, --metrics-port, --json.
  --multi-active           the arguments are the members of a multi-active group
  --member-ids IDS         comma-separated id per member, stamped into every version (default: each
                           member's region; they must then differ). 1-40 of A-Z a-z 0-9 . _ -
  --metadata-attributes STAMP,EXPIRES
                           the group's metadata attribute names (default rep:v,rep:ttl)
  --tombstone-ttl DUR      how long tombstones of deleted items live (default 48h)
  --conflict-log LOCATION  where conflicts are logged as JSON lines: s3://bucket/prefix or a
                           directory (default .dynamodb-replicator/group-<ids>/conflicts); read it
                           with the conflicts command
  --checkpoint-dir DIR     the directions' checkpoint files (default .dynamodb-replicator/group-<ids>)`;

export const REPLICATE_OPTIONS: Command['options'] = {
  backup: { type: 'string' },
  ...STORE_OPTIONS,
  checkpoint: { type: 'string' },
  'checkpoint-table': { type: 'string' },
  'wait-for-lease': { type: 'boolean' },
  'lease-duration': { type: 'string' },
  from: { type: 'string' },
  backfill: { type: 'boolean' },
  parallel: { type: 'string' },
  transform: { type: 'string' },
  'turnover-role': { type: 'string' },
  'turnover-at': { type: 'string' },
  'read-through': { type: 'boolean' },
  'on-gap': { type: 'string' },
  'stop-when-idle': { type: 'string' },
  'stats-every': { type: 'string' },
  'metrics-port': { type: 'string' },
  'multi-active': { type: 'boolean' },
  'member-ids': { type: 'string' },
  'metadata-attributes': { type: 'string' },
  'tombstone-ttl': { type: 'string' },
  'conflict-log': { type: 'string' },
  'checkpoint-dir': { type: 'string' },
  ...WRITE_BUDGET_OPTIONS,
  ...VERIFY_OPTIONS,
};

export const replicateCommand: Command = {
  name: 'replicate',
  summary: "Follow a table's stream and apply every change to one or more replicas (standalone runner)",
  help: REPLICATE_HELP,
  options: REPLICATE_OPTIONS,
  positionals: [1, Infinity],
  run: (args, io) => import('./replicate.run.js').then((m) => m.run(args, io)),
};
