// The `incremental-backup-record` command itself, loaded only when it runs (its spec and help are in incremental-backup-record.ts).
import { toDynamoJson } from '../../core/ddb-json.js';
import { backupRecord } from '../../backup/history.js';
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
    const { key, item, keySchema } = await readItemByKeyArgument(source, keyText);
    const result = await backupRecord(store, key, item, Date.now(), { table: source.table, keySchema });
    const view = {
      key: toDynamoJson(key),
      eventName: result.change.eventName,
      object: result.objects[0],
      time: result.change.approximateCreationTime,
    };
    if (args.values.json === true) writeJson(io, view);
    else
      io.stdout.write(
        `recorded ${view.eventName} of ${JSON.stringify(view.key)} from ${source.label} in ${label}/${view.object}\n`,
      );
    return 0;
  });
}
