/** Small pieces shared by the reliability suites (tables, items, equality checks, diff-tables runs). */
import assert from 'node:assert/strict';
import {
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { runCliCapture } from '../harness/cli.js';
import { byId, prototypeNamed, scanAll } from '../harness/table-items.js';

/** A table location string the CLI accepts, on `endpoint` in `region`. */
export function loc(endpoint: string, table: string, region = 'us-east-1'): string {
  return `${endpoint}/${table}?region=${region}`;
}

/**
 * Item `i`: exact 38-digit numbers, binary, a set, a nested map, attributes named `__proto__`,
 * `constructor`, `toString` and `hasOwnProperty`, and `pad` bytes of text.
 */
export function sampleItem(i: number, pad = 40): Item {
  return {
    id: { S: `k${i}` },
    // Exactly 38 significant digits whatever the size of i (DynamoDB's limit).
    n: { N: `${i}.${'0'.repeat(37 - String(i).length)}1` },
    big: { N: '12345678901234567890123456789012345678' },
    bin: { B: new Uint8Array([i % 256, 0, 255]) },
    tags: { SS: ['a', `t${i % 7}`] },
    nested: { M: { list: { L: [{ N: String(i) }, { NULL: true }, { S: '' }] } } },
    pad: { S: 'x'.repeat(pad) },
    ...prototypeNamed(i),
  };
}

export { putItems } from '../harness/table-load.js';

/** Asserts both tables hold exactly the same items (by `id`), read straight from DynamoDB. */
export async function assertSameItems(
  a: { client: DynamoDBClient; table: string },
  b: { client: DynamoDBClient; table: string },
): Promise<number> {
  const want = byId(await scanAll(a.client, a.table));
  const got = byId(await scanAll(b.client, b.table));
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  const different = [...want.keys()].filter((k) => got.has(k) && !itemsEqual(want.get(k), got.get(k)));
  assert.deepEqual(
    { missing: missing.slice(0, 10), extra: extra.slice(0, 10), different: different.slice(0, 10) },
    { missing: [], extra: [], different: [] },
  );
  assert.equal(got.size, want.size);
  return got.size;
}

/** diff-tables (read-only, no faults) must report 0 discrepancies and exit 0. */
export async function assertDiffClean(primary: string, replica: string): Promise<void> {
  const r = await runCliCapture(['diff-tables', primary, replica, '--json']);
  assert.equal(r.code, 0, `diff-tables found differences or failed: ${r.stdout}${r.stderr}`);
  const summary = JSON.parse(r.stdout) as { discrepancies: Record<string, number> };
  assert.ok(
    Object.values(summary.discrepancies).every((n) => n === 0),
    r.stdout,
  );
}

export { jsonLines, spawnCli, waitFor } from '../harness/cli-process.js';

/**
 * Puts (sometimes items near 400 KB), updates and deletes on random keys `k0..k<keys-1>` until
 * `total` changes were made or `stop.done`, at most `perSecond` changes per second. Every change
 * writes a unique counter, so each item image is distinct.
 */
export async function mixedLoad(
  client: DynamoDBClient,
  table: string,
  o: {
    keys: number;
    total: number;
    perSecond: number;
    random: () => number;
    bigEvery?: number;
    /** Counter of the first change (loads run one after another keep their images distinct). */
    first?: number;
  },
  stop: { done: boolean } = { done: false },
): Promise<number> {
  let n = 0;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (!stop.done && n < o.total) {
      const local = n++;
      const i = (o.first ?? 0) + local;
      const ahead = local / o.perSecond - (Date.now() - started) / 1000;
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead * 1000));
      const id = { S: `k${Math.floor(o.random() * o.keys)}` };
      const r = o.random();
      if (r < 0.45) {
        const pad = o.bigEvery && i % o.bigEvery === 0 ? 399_000 : 50;
        await client.send(
          new PutItemCommand({
            TableName: table,
            Item: { id, c: { N: `${i}.00000000000000000000000000000001` }, pad: { S: 'p'.repeat(pad) } },
          }),
        );
      } else if (r < 0.8)
        await client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { id },
            UpdateExpression: 'SET c = :c, b = :b',
            ExpressionAttributeValues: { ':c': { N: String(i) }, ':b': { B: new Uint8Array([i % 256, 0]) } },
          }),
        );
      else await client.send(new DeleteItemCommand({ TableName: table, Key: { id } }));
    }
  };
  // Each worker waits for its write: enough of them that ~50 ms per write still reaches the rate.
  const workers = Math.max(4, Math.ceil(o.perSecond / 20));
  await Promise.all(Array.from({ length: workers }, worker));
  return Math.min(n, o.total);
}
