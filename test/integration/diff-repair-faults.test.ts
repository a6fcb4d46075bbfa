import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  BatchWriteItemCommandInput,
  BatchWriteItemCommandOutput,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../../src/core/types.js';
import { diffTables, type Discrepancy } from '../../src/diff/diff-tables.js';
import { tableSide, tableTarget } from '../../src/diff/side.js';
import { dynamoClient } from '../harness/dynamodb.js';
import { createPair, diffCli, HASH_RANGE, putItems, row, scanAll } from './diff-fixtures.js';

/**
 * Injects a fault DynamoDB Local cannot produce: it never answers BatchWriteItem with
 * UnprocessedItems. This middleware holds back every third write of each request (it is not sent)
 * and returns it as UnprocessedItems, as DynamoDB does when throttled. The old tool's repair lost
 * exactly these writes.
 */
function injectUnprocessed(client: DynamoDBClient): { held: number } {
  const stats = { held: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchWriteItemCommand') return next(args);
      const input = args.input as BatchWriteItemCommandInput;
      const sent: NonNullable<BatchWriteItemCommandInput['RequestItems']> = {};
      const held: NonNullable<BatchWriteItemCommandInput['RequestItems']> = {};
      for (const [table, requests] of Object.entries(input.RequestItems ?? {})) {
        sent[table] = requests.filter((_, i) => i % 3 !== 2);
        const back = requests.filter((_, i) => i % 3 === 2);
        if (back.length) held[table] = back;
        stats.held += back.length;
      }
      const result = await next({ ...args, input: { ...input, RequestItems: sent } });
      const output = result.output as BatchWriteItemCommandOutput;
      output.UnprocessedItems = { ...output.UnprocessedItems, ...held };
      return result;
    },
    { step: 'initialize', name: 'injectUnprocessedItems' },
  );
  return stats;
}

test('1,000 discrepancies are all repaired while the server leaves writes unprocessed; a re-run finds 0', async () => {
  const pair = await createPair();
  const primary: Item[] = [];
  const replica: Item[] = [];
  // 1,200 keys: 400 missing, 400 different, 200 extraneous, 200 equal.
  for (let i = 0; i < 1200; i++) {
    const range = `r${String(i).padStart(4, '0')}`;
    const hash = `h${i % 13}`;
    if (i < 1000) primary.push(row(range, { N: String(i) }, hash));
    if (i >= 400 && i < 800) replica.push(row(range, { N: String(-i) }, hash));
    if (i >= 800) replica.push(row(range, { N: String(i) }, hash));
  }
  await putItems(pair.primaryClient, pair.primary, primary);
  await putItems(pair.replicaClient, pair.replica, replica);

  const faulty = dynamoClient(pair.endpoint, 'eu-west-1');
  const injected = injectUnprocessed(faulty);
  const found: Discrepancy[] = [];
  const result = await diffTables(
    tableSide(pair.primaryClient, pair.primary, HASH_RANGE),
    tableSide(faulty, pair.replica, HASH_RANGE),
    {
      repair: tableTarget(faulty, pair.replica, { keySchema: HASH_RANGE }),
      onDiscrepancy: (d) => void found.push(d),
    },
  );
  assert.deepEqual(result.discrepancies, { missing: 400, different: 400, extraneous: 200, total: 1000 });
  assert.equal(new Set(found.map((d) => d.keyText)).size, 1000);
  assert.ok(injected.held >= 300, `the fault was injected (${injected.held} writes held back)`);
  assert.equal(result.repaired?.written, 1000);
  assert.ok((result.repaired?.retries ?? 0) > 0);
  faulty.destroy();

  assert.deepEqual(
    await scanAll(pair.replicaClient, pair.replica),
    await scanAll(pair.primaryClient, pair.primary),
  );
  const again = await diffCli(pair, ['--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { discrepancies: { total: number } }).discrepancies.total, 0);
});
