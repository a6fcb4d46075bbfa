// The `incremental-record-history` command itself, loaded only when it runs (its spec and help are in incremental-record-history.ts).
import { toDynamoJson } from '../../core/ddb-json.js';
import { parseKeyArgument } from '../../core/key-input.js';
import { UsageError } from '../../core/errors.js';
import { describeKey, logKeySchema, recordHistory, type ItemVersion } from '../../backup/history.js';
import { formatTime } from '../../core/time.js';
import { listGaps } from '../../backup/point-in-time.js';
import { writeJson } from '../command.js';
import { closing } from '../locations.js';
import { openBackupStore } from '../backup-store.js';
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
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
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
}
