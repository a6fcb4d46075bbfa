// The `incremental-snapshot` command itself, loaded only when it runs (its spec and help are in incremental-snapshot.ts).
import { compactSnapshot } from '../../backup/snapshots.js';
import { formatTime } from '../../core/time.js';
import { writeJson } from '../command.js';
import { closing } from '../locations.js';
import { progressReporter } from '../progress.js';
import { openBackupStore } from '../backup-store.js';
import { timeOption } from '../time-option.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const [locationText, destText] = args.positionals as [string, string];
  const log = openBackupStore(locationText, args, io);
  const dest = openBackupStore(destText, args, io);
  const at = timeOption(args, 'at') ?? Date.now();
  return closing([log, dest], async () => {
    const progress = progressReporter(io, 'snapshot');
    const result = await compactSnapshot(log.store, dest.store, at, {
      onProgress: (n) => progress.update(n),
    });
    progress.done();
    const counts = {
      items: result.summary.itemCount,
      base: result.state.base.id,
      changesRead: result.state.changesRead,
      keysChanged: result.state.keysChanged,
    };
    if (args.values.json === true)
      writeJson(io, { destination: dest.label, snapshot: result.info, ...counts });
    else
      io.stdout.write(
        `snapshot at ${formatTime(at)}: ${counts.items} items in ${dest.label}/${result.info.exportFolder}\n` +
          `base ${counts.base} + ${counts.changesRead} logged changes to ${counts.keysChanged} keys\n`,
      );
    return 0;
  });
}
