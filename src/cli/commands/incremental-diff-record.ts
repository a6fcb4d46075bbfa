import { toDynamoJson } from '../../core/ddb-json.js';
import { itemsEqual } from '../../core/equality.js';
import { latestBackedUpState } from '../../backup/history.js';
import { writeJson, type Command } from '../command.js';
import { closing, openTable, readItemByKeyArgument } from '../locations.js';
import { openBackupStore, STORE_HELP, STORE_OPTIONS } from '../backup-store.js';

export const incrementalDiffRecordCommand: Command = {
  name: 'incremental-diff-record',
  summary: 'Compare one item in a table with its latest state in the change log',
  help: `Usage: dynamodb-replicator incremental-diff-record <table> <location> <key> [--json]

Reads the item from the table (strongly consistent) and its latest state in the change log at
<location> (its last logged change, or its item in the newest snapshot if it never changed since),
prints both in DynamoDB JSON and whether they are equal (sets ignore order, numbers compare by
value, binary by bytes).

Arguments:
  table      region/table, host:port/table or http(s)://host:port/table[?region=r]
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL
  key        the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json     print {"key","equal","table","backup","backupSource"} as one JSON object
${STORE_HELP}
  --debug    print stack traces on errors

Exit codes: 0 equal (or absent from both), 1 different, 2 error.`,
  options: { ...STORE_OPTIONS },
  positionals: [3, 3],
  async run(args, io) {
    const [tableText, locationText, keyText] = args.positionals as [string, string, string];
    const source = openTable(tableText, io);
    const backup = openBackupStore(locationText, args, io);
    const { store, label } = backup;
    return closing([source.client, backup], async () => {
      const { keySchema, key, item: live } = await readItemByKeyArgument(source, keyText);
      const latest = await latestBackedUpState(store, key, keySchema);
      const backedUp =
        latest.source === 'log'
          ? latest.version.image
          : latest.source === 'snapshot'
            ? latest.item
            : undefined;
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
  },
};
