/** Query as async iterators, page by page, with an optional capacity budget. */
import {
  QueryCommand,
  type AttributeValue as SdkAttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, Item } from '../core/types.js';
import { consumedCapacityParam, type CapacityBudget } from './capacity.js';
import { projectionExpression, readPages } from './paging.js';
import { withWireItems } from './wire-items.js';

export interface QueryOptions {
  readonly table: string;
  readonly index?: string;
  /** KeyConditionExpression, e.g. `#h = :h AND #r BETWEEN :a AND :b`. */
  readonly keyCondition: string;
  readonly filter?: string;
  /** ExpressionAttributeNames used by keyCondition and filter. */
  readonly names?: Record<string, string>;
  /** ExpressionAttributeValues used by keyCondition and filter. */
  readonly values?: Record<string, AttributeValue>;
  /** Top-level attributes to return (placeholders #p0, #p1, ... are added to `names`). */
  readonly projection?: readonly string[];
  readonly consistentRead?: boolean;
  /** false: descending range key order. */
  readonly scanForward?: boolean;
  readonly pageSize?: number;
  readonly budget?: CapacityBudget;
  readonly signal?: AbortSignal;
}

export async function* queryPages(client: DynamoDBClient, o: QueryOptions): AsyncGenerator<Item[]> {
  const projection = projectionExpression(o.projection);
  const names = { ...o.names, ...projection.ExpressionAttributeNames };
  yield* readPages(
    client,
    { action: 'Query', table: o.table, budget: o.budget, signal: o.signal },
    (start, signal) =>
      client.send(
        withWireItems(
          new QueryCommand({
            TableName: o.table,
            IndexName: o.index,
            KeyConditionExpression: o.keyCondition,
            FilterExpression: o.filter,
            ExpressionAttributeNames: Object.keys(names).length > 0 ? names : undefined,
            ExpressionAttributeValues: o.values as Record<string, SdkAttributeValue> | undefined,
            ProjectionExpression: projection.ProjectionExpression,
            ConsistentRead: o.consistentRead,
            ScanIndexForward: o.scanForward,
            Limit: o.pageSize,
            ExclusiveStartKey: start,
            ...consumedCapacityParam(o.budget !== undefined),
          }),
        ),
        { abortSignal: signal },
      ),
  );
}

export async function* queryItems(client: DynamoDBClient, o: QueryOptions): AsyncGenerator<Item> {
  for await (const page of queryPages(client, o)) yield* page;
}
