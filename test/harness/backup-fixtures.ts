/**
 * Tables and items for backup/restore tests: items full of values that lose data when handled
 * carelessly (38-digit numbers, binary, sets, nested maps/lists, empty strings, attributes named
 * `__proto__` or `constructor` at the top level and in maps), loaded with the
 * project's writer and read back with plain Scan calls (test/harness/table-items.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from '../../src/core/types.js';
import { writeAll } from '../../src/dynamodb/writer.js';
import { prototypeNamed } from './table-items.js';

/** Item `i`: hash key `id` (S), every attribute type, values that differ per item. */
export function awkwardItem(i: number): Item {
  const n = String(i).padStart(6, '0');
  return {
    id: { S: `item-${n}` },
    big: { N: `${(i % 9) + 1}2345678901234567890123456789012345${String(i % 1000).padStart(3, '0')}` },
    tiny: { N: `-0.${'0'.repeat(20)}${i + 1}` },
    bin: { B: new Uint8Array([0, 255, i % 256, (i >> 8) % 256, 10, 13]) },
    strings: { SS: [`a${i}`, `b${i}`, ''.padEnd(3, 'z')] },
    numbers: { NS: ['1', `${i}.5`, '-99999999999999999999999999999999999999'] },
    blobs: { BS: [new Uint8Array([i % 256]), new Uint8Array([1, 2, 3])] },
    nested: {
      M: { list: { L: [{ S: '' }, { NULL: true }, { BOOL: i % 2 === 0 }, { M: {} }] }, n: { N: '0.1' } },
    },
    text: { S: `üñí ✓ ${n}` },
    ...prototypeNamed(i),
  };
}

export function awkwardItems(count: number, from = 0): Item[] {
  return Array.from({ length: count }, (_, i) => awkwardItem(from + i));
}

export async function loadItems(client: DynamoDBClient, table: string, items: Iterable<Item>): Promise<void> {
  const puts = (function* () {
    for (const item of items) yield { put: item };
  })();
  await writeAll(client, table, puts, { keySchema: { hash: { name: 'id', type: 'S' } } });
}

/** Items sorted by their `id` string, for exact comparisons of whole tables. */
export function sortById(items: readonly Item[]): Item[] {
  const id = (item: Item) => (item.id && 'S' in item.id ? item.id.S : '');
  return [...items].sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}
