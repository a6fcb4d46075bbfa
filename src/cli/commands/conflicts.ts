import { STORE_OPTIONS, STORE_HELP } from '../store-options.js';
import type { Command } from '../command.js';

export const conflictsCommand: Command = {
  name: 'conflicts',
  summary: "List a multi-active group's conflicts: versions that lost to a concurrent one",
  help: `Usage: dynamodb-replicator conflicts <location> [--since TIME] [--json]

Prints the conflicts logged by \`replicate --multi-active\` (docs/multi-active.md): for each version
of an item that lost to a concurrent version of another member, the time of the losing version, the
item's key, both versions and whether each was a delete. Ordered by the losing version; a conflict
seen by several members is listed once.

Arguments:
  location   the group's conflict log (its --conflict-log): s3://bucket/prefix, a directory or
             file:// URL

Options:
  --since TIME   only conflicts whose losing version is at or after TIME (ISO 8601 or epoch ms)
  --json         one JSON object per line: key, loser, winner, loserDeleted, winnerDeleted, member
                 (where the versions met), at (ISO time of the losing version), detectedBy
${STORE_HELP}
  --debug        print stack traces on errors`,
  options: { since: { type: 'string' }, ...STORE_OPTIONS },
  positionals: [1, 1],
  run: (args, io) => import('./conflicts.run.js').then((m) => m.run(args, io)),
};
