/**
 * The multi-active group's one write: a PutItem that only replaces an item holding an older stamp
 * (or none). A refusal is an answer, not an error: the stored item comes back with it, read in the
 * same request (ReturnValuesOnConditionCheckFailure), so the caller can tell a duplicate from a
 * conflict without another read.
 */
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from '../core/types.js';
import { callDynamo, isConditionalCheckFailed } from './sdk-errors.js';

export type ConditionalPutResult =
  { readonly written: true } | { readonly written: false; readonly stored?: Item };

/** PutItem `item` unless the stored item's `attribute` is >= `value` (string order). */
export async function putIfNewer(
  client: DynamoDBClient,
  table: string,
  item: Item,
  attribute: string,
  value: string,
  signal?: AbortSignal,
): Promise<ConditionalPutResult> {
  try {
    await callDynamo(client, { action: 'PutItem', table }, () =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#s) OR #s < :s',
          ExpressionAttributeNames: { '#s': attribute },
          ExpressionAttributeValues: { ':s': { S: value } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    return { written: true };
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    const raw = (error as { cause?: { Item?: Item } }).cause;
    return raw?.Item ? { written: false, stored: raw.Item } : { written: false };
  }
}
