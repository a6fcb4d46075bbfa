/** Writing test data under load, and comparing whole tables afterwards. */
import assert from 'node:assert/strict';
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { scanAll } from './table-items.js';

/** Direct setup writes (no faults), 25 at a time. */
export async function putItems(client: DynamoDBClient, table: string, items: readonly Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    const out = await client.send(
      new BatchWriteItemCommand({
        RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
    assert.equal(Object.keys(out.UnprocessedItems ?? {}).length, 0, 'setup writes are not throttled locally');
  }
}

/** Puts, updates and deletes on random keys among `keys` (and new ones) until `stop.done`. */
export async function mutate(
  client: DynamoDBClient,
  table: string,
  keys: number,
  stop: { done: boolean; started?: number },
): Promise<number> {
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stop.done) {
      const id = `k${Math.floor(Math.random() * (keys + 200))}`;
      const op = n % 3;
      n++;
      stop.started = n;
      if (op === 0)
        await client.send(
          new PutItemCommand({
            TableName: table,
            Item: { id: { S: id }, v: { N: `${n}123456789012345678901234567890` }, w: { N: String(w) } },
          }),
        );
      else if (op === 1)
        await client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { id: { S: id } },
            UpdateExpression: 'SET u = :u, b = :b',
            ExpressionAttributeValues: {
              ':u': { N: String(n) },
              ':b': { B: new Uint8Array([n % 256, 0, 255]) },
            },
          }),
        );
      else await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return n;
}

/** Asserts that two tables (hash key `id` S) hold the same items; returns how many. */
export async function assertTablesEqual(
  source: DynamoDBClient,
  sourceTable: string,
  replica: DynamoDBClient,
  replicaTable: string,
): Promise<number> {
  const want = await scanAll(source, sourceTable);
  const got = await scanAll(replica, replicaTable);
  const byId = new Map(got.map((i) => [(i.id as { S: string }).S, i]));
  let differences = 0;
  for (const item of want) if (!itemsEqual(byId.get((item.id as { S: string }).S), item)) differences++;
  differences += Math.max(0, got.length - want.length);
  assert.equal(differences, 0, `replica differs from source in ${differences} item(s)`);
  assert.equal(got.length, want.length);
  return got.length;
}
