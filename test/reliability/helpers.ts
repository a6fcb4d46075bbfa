/** Small pieces shared by the reliability suites (tables, items, equality checks, diff-tables runs). */
import assert from 'node:assert/strict';
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { runCliCapture } from '../harness/cli.js';
import { byId, scanAll } from '../harness/table-items.js';

/** A table location string the CLI accepts, on `endpoint` in `region`. */
export function loc(endpoint: string, table: string, region = 'us-east-1'): string {
  return `${endpoint}/${table}?region=${region}`;
}

/** Item `i`: exact 38-digit numbers, binary, a set, a nested map and `pad` bytes of text. */
export function sampleItem(i: number, pad = 40): Item {
  return {
    id: { S: `k${i}` },
    n: { N: `${i}.0000000000000000000000000000000001` },
    big: { N: '12345678901234567890123456789012345678' },
    bin: { B: new Uint8Array([i % 256, 0, 255]) },
    tags: { SS: ['a', `t${i % 7}`] },
    nested: { M: { list: { L: [{ N: String(i) }, { NULL: true }, { S: '' }] } } },
    pad: { S: 'x'.repeat(pad) },
  };
}

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

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
