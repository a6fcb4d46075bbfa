import {
  BatchWriteItemCommand,
  ScanCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../src/core/types.js';

/** Requests in flight for the raw write ceiling: DynamoDB Local stops gaining at a few. */
export const RAW_WRITE_CONCURRENCY = 8;
/** Segments for the raw read ceiling. */
export const RAW_SCAN_SEGMENTS = 4;

/** The benchmark item: small (one write unit), with an exact 38-digit number and a set. */
export function benchItem(i: number): Item {
  return {
    id: { S: `item-${String(i).padStart(8, '0')}` },
    n: { N: `${i}1234567890123456789012345.5` },
    payload: { S: 'x'.repeat(40) },
    tags: { SS: ['a', `t${i % 10}`] },
  };
}

/**
 * The write ceiling: `count` items written with plain BatchWriteItem calls straight from the SDK,
 * `concurrency` requests in flight, unprocessed items re-sent. Returns items/s.
 */
export async function rawBatchWrite(
  client: DynamoDBClient,
  table: string,
  count: number,
  item: (i: number) => Item = benchItem,
  concurrency = RAW_WRITE_CONCURRENCY,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + 25);
      let requests: Record<string, WriteRequest[]> = {
        [table]: Array.from({ length: next - from }, (_, j) => ({
          PutRequest: { Item: item(from + j) as never },
        })),
      };
      while (Object.keys(requests).length > 0) {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: requests }));
        requests = out.UnprocessedItems ?? {};
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

/** The read ceiling: plain Scan calls, `segments` segments concurrently. Returns items/s and the count. */
export async function rawParallelScan(
  client: DynamoDBClient,
  table: string,
  segments = RAW_SCAN_SEGMENTS,
): Promise<{ itemsPerSecond: number; items: number }> {
  let items = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: table,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: start as never,
          }),
        );
        items += page.Count ?? 0;
        start = page.LastEvaluatedKey;
      } while (start);
    }),
  );
  return { itemsPerSecond: items / ((performance.now() - started) / 1000), items };
}
