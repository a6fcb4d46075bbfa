import { toDynamoJson } from '../../core/ddb-json.js';
import { parseKeyArgument } from '../../core/key-input.js';
import { replicateRecord } from '../../diff/record.js';
import { writeJson, type Command } from '../command.js';
import { openPair, sideOf, targetOf } from './diff-tables.js';

export const replicateRecordCommand: Command = {
  name: 'replicate-record',
  summary: 'Copy one item from the primary to the replica (or delete it there if the primary has none)',
  help: `Usage: dynamodb-replicator replicate-record <primary> <replica> <key> [--json]

Reads the item from the primary with a strongly consistent read and puts it on the replica; when
the primary has no such item, deletes it from the replica. Unprocessed writes are retried; a write
that still fails is an error (exit 2).

Arguments:
  primary   region/table, host:port/table or http(s)://host:port/table[?region=r]
  replica   same forms; must have the primary's key schema
  key       the item's key as plain JSON {"id":"abc"} or DynamoDB JSON {"id":{"S":"abc"}}

Options:
  --json    print {"key","action"} as one JSON object
  --debug   print stack traces on errors`,
  options: {},
  positionals: [3, 3],
  async run(args, io) {
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
  },
};
