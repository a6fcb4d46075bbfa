/**
 * Scans as async iterators, page by page, with an optional capacity budget: one segment (or the
 * whole table), several segments concurrently in one process, or one share of a scan split across
 * processes or machines.
 */
import {
  ScanCommand,
  type AttributeValue as SdkAttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { UsageError } from '../core/errors.js';
import type { Item } from '../core/types.js';
import { consumedCapacityParam, type CapacityBudget } from './capacity.js';
import { mergePages } from './page-channel.js';
import { projectionExpression, readKeyedPages, readPages, type KeyedPage } from './paging.js';
import { callDynamo } from './sdk-errors.js';
import { withWireItems } from './wire-items.js';

export { queryItems, queryPages, type QueryOptions } from './query.js';
export type { KeyedPage } from './paging.js';

export interface ScanOptions {
  readonly table: string;
  readonly segment?: number;
  readonly totalSegments?: number;
  readonly consistentRead?: boolean;
  /** Scan Limit: items evaluated per request (DynamoDB also stops a page at 1 MB). */
  readonly pageSize?: number;
  /** Scan Limit of the first request only, when it should differ from pageSize. */
  readonly firstPageSize?: number;
  /** Top-level attributes to return (all when absent). */
  readonly projection?: readonly string[];
  readonly budget?: CapacityBudget;
  readonly signal?: AbortSignal;
}

export type ParallelScanOptions = Omit<ScanOptions, 'segment' | 'totalSegments'> & {
  /** Segments scanned concurrently by this process. */
  readonly segments: number;
  /** This process's share of a scan split across `totalSegments` processes (0-based). */
  readonly segment?: number;
  readonly totalSegments?: number;
};

function checkSegment(segment: number | undefined, totalSegments: number | undefined): void {
  if (segment === undefined && totalSegments === undefined) return;
  if (
    segment === undefined ||
    totalSegments === undefined ||
    !Number.isInteger(segment) ||
    !Number.isInteger(totalSegments) ||
    totalSegments < 1 ||
    segment < 0 ||
    segment >= totalSegments
  ) {
    throw new UsageError(
      `segment ${segment} of ${totalSegments} is not valid: give both, as integers with 0 <= segment < totalSegments`,
    );
  }
}

function scanRequest(o: ScanOptions) {
  const split =
    o.totalSegments !== undefined && o.totalSegments > 1
      ? { Segment: o.segment, TotalSegments: o.totalSegments }
      : {};
  return (start: Record<string, SdkAttributeValue> | undefined) =>
    withWireItems(
      new ScanCommand({
        TableName: o.table,
        ExclusiveStartKey: start,
        ConsistentRead: o.consistentRead,
        Limit: start === undefined ? (o.firstPageSize ?? o.pageSize) : o.pageSize,
        ...consumedCapacityParam(o.budget !== undefined),
        ...split,
        ...projectionExpression(o.projection),
      }),
    );
}

/** Pages of one segment (or of the whole table when no segment is given). */
export async function* scanPages(client: DynamoDBClient, o: ScanOptions): AsyncGenerator<Item[]> {
  checkSegment(o.segment, o.totalSegments);
  const request = scanRequest(o);
  yield* readPages(
    client,
    { action: 'Scan', table: o.table, budget: o.budget, signal: o.signal },
    (start, signal) => client.send(request(start), { abortSignal: signal }),
  );
}

/**
 * Every Scan response of one segment from `startKey` on (empty ones too), each with its
 * LastEvaluatedKey: a resumable scan records the key of the last page it handled and starts there.
 */
export async function* scanKeyedPages(
  client: DynamoDBClient,
  o: ScanOptions & { readonly startKey?: Item },
): AsyncGenerator<KeyedPage> {
  checkSegment(o.segment, o.totalSegments);
  const request = scanRequest(o);
  yield* readKeyedPages(
    client,
    {
      action: 'Scan',
      table: o.table,
      budget: o.budget,
      signal: o.signal,
      ...(o.startKey ? { startKey: o.startKey } : {}),
    },
    (start, signal) => client.send(request(start), { abortSignal: signal }),
  );
}

/**
 * Pages of `segments` segments scanned concurrently, in whatever order they arrive. With
 * `segment`/`totalSegments`, only that share: DynamoDB segments
 * `segment * segments ... segment * segments + segments - 1` of `totalSegments * segments`, so
 * processes that use the same `segments` and `totalSegments` together cover the table exactly
 * (with `segments: 1` that is plain DynamoDB segment `segment` of `totalSegments`).
 * Memory: at most about two pages per segment are held at a time.
 */
export async function* parallelScanPages(
  client: DynamoDBClient,
  o: ParallelScanOptions,
): AsyncGenerator<Item[]> {
  const { segments, segment, totalSegments, ...rest } = o;
  if (!Number.isInteger(segments) || segments < 1) {
    throw new UsageError(`segments must be a positive integer, got ${segments}`);
  }
  checkSegment(segment, totalSegments);
  const total = (totalSegments ?? 1) * segments;
  const first = (segment ?? 0) * segments;
  if (total === 1) {
    yield* scanPages(client, rest);
    return;
  }
  if (segments === 1) {
    yield* scanPages(client, { ...rest, segment: first, totalSegments: total });
    return;
  }
  yield* mergePages(
    Array.from(
      { length: segments },
      (_, i) => (signal: AbortSignal) =>
        scanPages(client, { ...rest, segment: first + i, totalSegments: total, signal }),
    ),
    o.signal,
  );
}

/**
 * Items of a scan: parallel when `segments` is given, else one segment or the whole table.
 *
 * @example
 * for await (const item of scanItems(client, { table: 'users', segments: 8 })) {
 *   console.log(JSON.stringify(item));
 * }
 */
export async function* scanItems(
  client: DynamoDBClient,
  o: ScanOptions | ParallelScanOptions,
): AsyncGenerator<Item> {
  const pages = 'segments' in o ? parallelScanPages(client, o) : scanPages(client, o);
  for await (const page of pages) yield* page;
}

/** Pages of 100 items a probe for emptiness reads at most. */
const EMPTINESS_PROBE_PAGES = 10;

/**
 * Whether a consistent scan of `table` finds no item. A page may come back empty with a
 * LastEvaluatedKey, so up to 10 pages of 100 are followed; still undecided after that counts as
 * not empty (callers then compare instead of assuming an empty table, which is always safe).
 */
export async function tableIsEmpty(
  client: DynamoDBClient,
  table: string,
  o: { readonly signal?: AbortSignal } = {},
): Promise<boolean> {
  let start: Record<string, SdkAttributeValue> | undefined;
  for (let page = 0; page < EMPTINESS_PROBE_PAGES; page++) {
    const out = await callDynamo(client, { action: 'Scan', table }, () =>
      client.send(
        new ScanCommand({ TableName: table, Limit: 100, ConsistentRead: true, ExclusiveStartKey: start }),
        { abortSignal: o.signal },
      ),
    );
    if ((out.Items?.length ?? 0) > 0) return false;
    if (!out.LastEvaluatedKey) return true;
    start = out.LastEvaluatedKey;
  }
  return false;
}
