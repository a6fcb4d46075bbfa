// The `conflicts` command itself, loaded only when it runs (its spec and help are in conflicts.ts).
import { readConflicts } from '../../replicate/group-conflicts.js';
import { openBackupStore } from '../backup-store.js';
import type { CliIO, ParsedArgs } from '../command.js';
import { timeOption } from '../time-option.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const since = timeOption(args, 'since') ?? 0;
  const log = openBackupStore(args.positionals[0] as string, args, io);
  try {
    const entries = await readConflicts(log.store, since);
    for (const e of entries) {
      if (args.values.json === true) io.stdout.write(JSON.stringify(e) + '\n');
      else
        io.stdout.write(
          `${e.at}  ${e.key}  ${e.loser}${e.loserDeleted ? ' (delete)' : ''} lost to ` +
            `${e.winner}${e.winnerDeleted ? ' (delete)' : ''} at ${e.member}\n`,
        );
    }
    if (args.values.json !== true) io.stderr.write(`${entries.length} conflict(s)\n`);
    return 0;
  } finally {
    log.destroy();
  }
}
