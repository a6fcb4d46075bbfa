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
