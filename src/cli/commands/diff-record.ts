import { toDynamoJson } from '../../core/ddb-json.js';
import { parseKeyArgument } from '../../core/key-input.js';
import { diffRecord } from '../../diff/record.js';
import { writeJson, type Command } from '../command.js';
import { openPair, sideOf } from './diff-tables.js';

export const diffRecordCommand: Command = {
  name: 'diff-record',
  summary: 'Show one item on the primary and on the replica, and whether they are equal',
  help: `Usage: dynamodb-replicator diff-record <primary> <replica> <key> [--json]

Reads the item with a strongly consistent read from both tables and prints both images in DynamoDB
JSON, side by side, and whether they are equal (sets ignore order, numbers compare by value, binary
by bytes).

Arguments:
  primary   region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica   same forms; must have the primary's key schema
  key       the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json    print {"key","equal","kind","primary","replica"} as one JSON object
  --debug   print stack traces on errors

Exit codes: 0 equal (or absent from both), 1 different, missing or extraneous, 2 error.`,
  options: {},
  positionals: [3, 3],
  async run(args, io) {
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
  },
};
