/** copyItems, the one scan-then-write path: several targets, bounded read-ahead, failures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../../src/core/errors.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { COPY_QUEUE_PAGES, copyItems, tableSink } from '../../src/dynamodb/copy-table.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { byId, scanAll } from '../harness/table-items.js';

const schema: KeySchema = { hash: { name: 'id', type: 'S' } };
const item = (i: number): Item => ({ id: { S: `item-${i}` }, v: { N: String(i) } });
const PAGE = 25;

test('copyItems writes every page to every target and reads only a few pages ahead of the slowest', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const a = await createTestTable(client);
  const b = await createTestTable(client);
  let yielded = 0;
  let maxAhead = 0;
  let written = 0;
  async function* pages(): AsyncGenerator<Item[]> {
    for (let p = 0; p < 80; p++) {
      maxAhead = Math.max(maxAhead, yielded - written);
      yield Array.from({ length: PAGE }, (_, j) => item(p * PAGE + j));
      yielded += PAGE;
    }
  }
  const concurrency = 2;
  const result = await copyItems(
    pages(),
    [
      tableSink(client, a, { keySchema: schema, concurrency }),
      tableSink(client, b, { keySchema: schema, concurrency }),
    ],
    { onProgress: (p) => (written = p.written) },
  );
  assert.equal(result.scanned, 80 * PAGE);
  assert.equal(result.written, 80 * PAGE);
  const expected = byId(Array.from({ length: 80 * PAGE }, (_, i) => item(i)));
  assert.deepEqual(byId(await scanAll(client, a)), expected);
  assert.deepEqual(byId(await scanAll(client, b)), expected);
  // Queued pages, the page being handed over, the writer's buffer and its requests in flight.
  const bound = (COPY_QUEUE_PAGES + 2) * PAGE + PAGE * (concurrency + 1);
  assert.ok(maxAhead <= bound, `read ${maxAhead} items ahead of the writes (bound ${bound})`);
});

test('copyItems: a target that fails outright stops the copy, the source included, with its error', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const a = await createTestTable(client);
  const missing = uniqueName('missing');
  let yielded = 0;
  async function* pages(): AsyncGenerator<Item[]> {
    for (let p = 0; p < 10_000; p++) {
      yielded++;
      yield Array.from({ length: PAGE }, (_, j) => item(p * PAGE + j));
    }
  }
  const error = await copyItems(pages(), [
    tableSink(client, a, { keySchema: schema }),
    tableSink(client, missing, { keySchema: schema }),
  ]).then(
    () => assert.fail('expected NotFoundError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NotFoundError, String(error));
  assert.match(error.message, new RegExp(`Table "${missing}" was not found`));
  assert.ok(yielded < 10_000, `the source was read to its end (${yielded} pages)`);
});
