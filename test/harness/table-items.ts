import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from '../../src/core/types.js';

/**
 * Every item of a table, read with plain paginated Scan calls straight from the SDK, so tests check
 * the code under test against DynamoDB itself and not against another helper of the project.
 */
export async function scanAll(client: DynamoDBClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start as never }),
    );
    items.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Items by the string value of their hash key attribute `id`. */
export function byId(items: readonly Item[], attribute = 'id'): Map<string, Item> {
  const map = new Map<string, Item>();
  for (const item of items) {
    const id = item[attribute];
    if (!id || !('S' in id)) throw new Error(`item without a string ${attribute}`);
    map.set(id.S, item);
  }
  return map;
}

/** Names of Object.prototype members: legal DynamoDB attribute names, and traps for `{}`, `in` and `obj[name]`. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'] as const;

/**
 * Attributes named after Object.prototype members, at the top level and nested in a map, with
 * values that vary with `tag` (so two items with different tags differ in exactly these). Computed
 * keys make `__proto__` an own attribute, as JSON.parse and the SDK produce it.
 */
export function prototypeNamed(tag: string | number): Item {
  return {
    ['__proto__']: { S: `proto ${tag}` },
    ['constructor']: { SS: [`c ${tag}`, 'c'] },
    ['toString']: {
      M: {
        ['__proto__']: { M: { ['constructor']: { S: `nested ${tag}` } } },
        ['toString']: { L: [{ S: `${tag}` }, { BOOL: false }] },
        ['valueOf']: { B: new Uint8Array([1, 2, String(tag).length % 256]) },
      },
    },
    ['hasOwnProperty']: { BOOL: true },
  };
}
