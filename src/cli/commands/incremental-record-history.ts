import { toDynamoJson } from '../../core/ddb-json.js';
import { parseKeyArgument } from '../../core/key-input.js';
import { UsageError } from '../../core/errors.js';
import { describeKey, logKeySchema, recordHistory, type ItemVersion } from '../../backup/history.js';
import { formatTime } from '../../core/time.js';
import { listGaps } from '../../backup/point-in-time.js';
import { writeJson, type Command } from '../command.js';
import { closing } from '../locations.js';
import { openBackupStore, STORE_HELP, STORE_OPTIONS } from '../backup-store.js';
import { timeOption } from '../time-option.js';

function versionJson(v: ItemVersion): Record<string, unknown> {
  return {
    time: v.time,
    isoTime: new Date(v.time).toISOString(),
    eventName: v.eventName,
    sequenceNumber: v.sequenceNumber,
    shardId: v.shardId,
    synthetic: v.synthetic,
    image: v.image ? toDynamoJson(v.image) : null,
    ...(v.oldImage ? { oldImage: toDynamoJson(v.oldImage) } : {}),
  };
}

export const incrementalRecordHistoryCommand: Command = {
  name: 'incremental-record-history',
  summary: 'List every logged version of one item, oldest first',
  help: `Usage: dynamodb-replicator incremental-record-history <location> <key> [--since TIME] [--until TIME] [--json]

Prints every change of one item recorded in the change log at <location>, oldest first (by creation
time, then sequence number): its time, event name (INSERT, MODIFY, REMOVE) and the item after the
change in DynamoDB JSON. A batch delivered twice is listed once. The log is organised by time, so a
long log reads faster with --since/--until.

Arguments:
  location   the table's change log: s3://bucket/prefix/<table>, a directory or file:// URL
  key        the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --since TIME   only changes created at or after TIME (ISO 8601 or epoch milliseconds)
  --until TIME   only changes created at or before TIME
  --json         print {"key","versions":[{time,isoTime,eventName,sequenceNumber,shardId,synthetic,image,oldImage}],
                 "gaps":[{lossFrom,detectedAt,reason}]} (recorded gaps in the range: versions may be missing)
${STORE_HELP}
  --debug        print stack traces on errors`,
  options: { since: { type: 'string' }, until: { type: 'string' }, ...STORE_OPTIONS },
  positionals: [2, 2],
  async run(args, io) {
    const [locationText, keyText] = args.positionals as [string, string];
    const since = timeOption(args, 'since');
    const until = timeOption(args, 'until');
    if (since !== undefined && until !== undefined && since > until)
      throw new UsageError('--since must not be later than --until');
    const backup = openBackupStore(locationText, args, io);
    const { store, label } = backup;
    return closing([backup], async () => {
      const key = parseKeyArgument(keyText, await logKeySchema(store, label));
      const versions = await recordHistory(store, key, {
        ...(since !== undefined ? { from: since } : {}),
        ...(until !== undefined ? { to: until } : {}),
      });
      // A recorded gap inside the range may hide versions: say so rather than list them as complete.
      const gaps = (await listGaps(store)).filter(
        (g) => g.detectedAt >= (since ?? -Infinity) && g.lossFrom <= (until ?? Infinity),
      );
      if (args.values.json === true) {
        writeJson(io, {
          key: toDynamoJson(key),
          versions: versions.map(versionJson),
          gaps: gaps.map(({ lossFrom, detectedAt, reason }) => ({ lossFrom, detectedAt, reason })),
        });
        return 0;
      }
      for (const g of gaps)
        io.stderr.write(
          `warning: changes from ${formatTime(g.lossFrom)} until ${formatTime(g.detectedAt)} may be missing ` +
            `from ${label} (${g.reason})\n`,
        );
      if (versions.length === 0) io.stdout.write(`no logged change of ${describeKey(key)} in ${label}\n`);
      for (const v of versions) {
        const image = v.image ? JSON.stringify(toDynamoJson(v.image)) : '(deleted)';
        const how = v.synthetic ? ' (recorded by incremental-backup-record)' : '';
        io.stdout.write(`${new Date(v.time).toISOString()}  ${v.eventName.padEnd(6)}  ${image}${how}\n`);
      }
      return 0;
    });
  },
};
