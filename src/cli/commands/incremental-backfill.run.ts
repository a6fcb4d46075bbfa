// The `incremental-backfill` command itself, loaded only when it runs (its spec and help are in incremental-backfill.ts).
import { incrementalBackfill } from '../../backup/snapshots.js';
import { formatTime } from '../../core/time.js';
import { describeTable } from '../../dynamodb/tables.js';
import { readBudgetOption } from '../budgets.js';
import { intOption, writeJson } from '../command.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { openBackupStore } from '../backup-store.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const [sourceText, locationText] = args.positionals as [string, string];
  const source = openTable(sourceText, io);
  const backup = openBackupStore(locationText, args, io);
  const { store, label } = backup;
  const parallel = intOption(args, 'parallel', 4, { min: 1, max: 1000 });
  const budget = readBudgetOption(args);
  return closing([source.client, backup], async () => {
    const info = await describeTable(source.client, source.table);
    const progress = progressReporter(io, `backfill ${source.label}`, info.itemCount);
    const snapshot = await incrementalBackfill(source.client, store, {
      table: source.table,
      ...(parallel !== undefined ? { parallel } : {}),
      ...(budget ? { budget } : {}),
      onProgress: (n) => progress.update(n),
    });
    progress.done();
    if (args.values.json === true) writeJson(io, { location: label, snapshot });
    else
      io.stdout.write(
        `snapshot ${snapshot.id}: ${snapshot.itemCount} items of ${source.label} in ${label}/snapshots/${snapshot.id}\n` +
          `restorable from ${formatTime(snapshot.completedAt)}\n`,
      );
    return 0;
  });
}
