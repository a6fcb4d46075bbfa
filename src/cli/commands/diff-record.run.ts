// The `diff-record` command itself, loaded only when it runs (its spec and help are in diff-record.ts).
import { toDynamoJson } from '../../core/ddb-json.js';
import { parseKeyArgument } from '../../core/key-input.js';
import { diffRecord } from '../../diff/record.js';
import { writeJson } from '../command.js';
import { openPair, sideOf } from './diff-tables.run.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const [primaryText, replicaText, keyText] = args.positionals as [string, string, string];
  return openPair('diff-record', io, primaryText, replicaText, async (pair) => {
    const key = parseKeyArgument(keyText, pair.primary.info.keySchema);
    const d = await diffRecord(sideOf(pair.primary), sideOf(pair.replica), key);
    const view = {
      key: toDynamoJson(key),
      equal: d.kind === undefined,
      ...(d.kind ? { kind: d.kind } : {}),
      primary: d.primary ? toDynamoJson(d.primary) : null,
      replica: d.replica ? toDynamoJson(d.replica) : null,
    };
    if (args.values.json === true) writeJson(io, view);
    else {
      const verdict = d.kind === undefined ? (d.primary ? 'equal' : 'absent from both tables') : d.kind;
      io.stdout.write(
        `key      ${JSON.stringify(view.key)}\n` +
          `primary  ${pair.primary.label}\n${JSON.stringify(view.primary, null, 2)}\n` +
          `replica  ${pair.replica.label}\n${JSON.stringify(view.replica, null, 2)}\n` +
          `result   ${verdict}\n`,
      );
    }
    return d.kind === undefined ? 0 : 1;
  });
}
