/**
 * The page loop shared by Scan and Query: follow LastEvaluatedKey, charge the capacity budget with
 * what each page consumed, yield non-empty pages.
 */
import type { AttributeValue as SdkAttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from '../core/types.js';
import type { CapacityBudget } from './capacity.js';
import { callDynamo } from './sdk-errors.js';

export interface PageResponse {
  readonly Items?: Record<string, SdkAttributeValue>[];
  readonly LastEvaluatedKey?: Record<string, SdkAttributeValue>;
  readonly ConsumedCapacity?: { readonly CapacityUnits?: number };
}

export interface PagingOptions {
  readonly action: 'Scan' | 'Query';
  readonly table: string;
  readonly budget?: CapacityBudget;
  readonly signal?: AbortSignal;
}

/** `#p0, #p1, ...` for a list of top-level attribute names, so reserved words need no care. */
export function projectionExpression(names: readonly string[] | undefined): {
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
} {
  if (!names || names.length === 0) return {};
  const placeholders: Record<string, string> = {};
  names.forEach((name, i) => (placeholders[`#p${i}`] = name));
  return {
    ProjectionExpression: Object.keys(placeholders).join(', '),
    ExpressionAttributeNames: placeholders,
  };
}

/** One response of a paged read: its items (possibly none) and where the next page starts. */
export interface KeyedPage {
  readonly items: Item[];
  /** The response's LastEvaluatedKey (raw AttributeValues); absent on the last page. */
  readonly lastKey?: Item;
}

/**
 * Every response from `startKey` on, empty ones included, each with its LastEvaluatedKey: what a
 * resumable reader records as its continuation after handling a page.
 */
export async function* readKeyedPages(
  client: DynamoDBClient,
  o: PagingOptions & { readonly startKey?: Item },
  fetch: (
    start: Record<string, SdkAttributeValue> | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<PageResponse>,
): AsyncGenerator<KeyedPage> {
  let start = o.startKey as Record<string, SdkAttributeValue> | undefined;
  do {
    o.signal?.throwIfAborted();
    await o.budget?.acquire(0, o.signal);
    const page = await callDynamo(client, { action: o.action, table: o.table }, () => fetch(start, o.signal));
    // SDK items are structurally core Items (N as string, B as Uint8Array).
    const items = (page.Items ?? []) as Item[];
    o.budget?.record(page.ConsumedCapacity?.CapacityUnits ?? 0, items.length);
    start = page.LastEvaluatedKey;
    yield start ? { items, lastKey: start as Item } : { items };
  } while (start);
}

export async function* readPages(
  client: DynamoDBClient,
  o: PagingOptions,
  fetch: (
    start: Record<string, SdkAttributeValue> | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<PageResponse>,
): AsyncGenerator<Item[]> {
  // A page may be empty while more follow (filters, sparse segments): only yield items.
  for await (const page of readKeyedPages(client, o, fetch)) if (page.items.length > 0) yield page.items;
}
