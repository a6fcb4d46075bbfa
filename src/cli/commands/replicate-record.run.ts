// The `replicate-record` command itself, loaded only when it runs (its spec and help are in replicate-record.ts).
import { toDynamoJson } from '../../core/ddb-json.js';
import { parseKeyArgument } from '../../core/key-input.js';
import { replicateRecord } from '../../diff/record.js';
import { writeJson } from '../command.js';
import { openPair, sideOf, targetOf } from './diff-tables.run.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const [primaryText, replicaText, keyText] = args.positionals as [string, string, string];
  return openPair('replicate-record', io, primaryText, replicaText, async (pair) => {
    const key = parseKeyArgument(keyText, pair.primary.info.keySchema);
    const r = await replicateRecord(sideOf(pair.primary), targetOf(pair.replica), key);
    const keyJson = toDynamoJson(key);
    if (args.values.json === true) writeJson(io, { key: keyJson, action: r.action });
    else {
      io.stdout.write(
        r.action === 'put'
          ? `put ${JSON.stringify(keyJson)} on ${pair.replica.label} (copied from ${pair.primary.label})\n`
          : `deleted ${JSON.stringify(keyJson)} from ${pair.replica.label} (${pair.primary.label} has no such item)\n`,
      );
    }
    return 0;
  });
}
