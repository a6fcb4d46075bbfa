// The `incremental-diff-record` command itself, loaded only when it runs (its spec and help are in incremental-diff-record.ts).
import { toDynamoJson } from '../../core/ddb-json.js';
import { itemsEqual } from '../../core/equality.js';
import { latestBackedUpState } from '../../backup/history.js';
import { writeJson } from '../command.js';
import { closing, openTable, readItemByKeyArgument } from '../locations.js';
import { openBackupStore } from '../backup-store.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const [tableText, locationText, keyText] = args.positionals as [string, string, string];
  const source = openTable(tableText, io);
  const backup = openBackupStore(locationText, args, io);
  const { store, label } = backup;
  return closing([source.client, backup], async () => {
    const { keySchema, key, item: live } = await readItemByKeyArgument(source, keyText);
    const latest = await latestBackedUpState(store, key, keySchema);
    const backedUp =
      latest.source === 'log' ? latest.version.image : latest.source === 'snapshot' ? latest.item : undefined;
    const equal = itemsEqual(live, backedUp);
    const backupSource =
      latest.source === 'log'
        ? `log: ${latest.version.eventName} at ${new Date(latest.version.time).toISOString()}`
        : latest.source === 'snapshot'
          ? `snapshot ${latest.snapshot.id}`
          : 'none';
    const view = {
      key: toDynamoJson(key),
      equal,
      table: live ? toDynamoJson(live) : null,
      backup: backedUp ? toDynamoJson(backedUp) : null,
      backupSource,
    };
    if (args.values.json === true) writeJson(io, view);
    else
      io.stdout.write(
        `key     ${JSON.stringify(view.key)}\n` +
          `table   ${source.label}\n${JSON.stringify(view.table, null, 2)}\n` +
          `backup  ${label} (${backupSource})\n${JSON.stringify(view.backup, null, 2)}\n` +
          `result  ${equal ? (live ? 'equal' : 'absent from both') : 'different'}\n`,
      );
    return equal ? 0 : 1;
  });
}
