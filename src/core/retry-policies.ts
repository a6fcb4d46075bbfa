/**
 * Every retry policy of the project, one per layer. A request can pass through several layers, and
 * each layer only retries what the layer below gave up on, so the attempts multiply; the worst cases
 * are written down here.
 *
 * 1. SDK request layer (SDK_REQUEST_ATTEMPTS = 6): the AWS SDK's standard retry strategy re-sends one
 *    HTTP request on throttling, 5xx, network errors and timeouts. Set per client (core/network.ts,
 *    `--max-attempts`).
 * 2. Batch layer (BATCH_RETRY: 10 sends, 50 ms doubling to 5 s): BatchWriteItem and BatchGetItem
 *    re-send the items DynamoDB returned as unprocessed, and a request the SDK gave up on because of
 *    throttling. Worst case per batch: 10 x 6 = 60 HTTP requests; then the keys are named in an
 *    UnprocessedError. `copy`, `diff --backfill/--repair`, `replicate --backfill`, `import` and
 *    `restore` go no further: they have no retry layer of their own (a rerun converges).
 * 3. Stream read layer (STREAM_READ_RETRY: 8 calls, 100 ms doubling to 5 s): GetRecords and the
 *    backfill's stream-position recorder, on errors the SDK gave up on. Worst case per call:
 *    8 x 6 = 48 HTTP requests, then the runner stops with the error.
 * 4. Apply layer (APPLY_RETRY: unbounded, 100 ms doubling to 10 s): the stream runner re-applies the
 *    keys of a batch that the batch layer could not write. Unbounded on purpose: the runner must
 *    never skip a record while a replica is unavailable, so it waits out an outage (checkpointing
 *    what is durable) until it is stopped. Each of its attempts costs at most 60 HTTP requests per
 *    BatchWriteItem (layer 2).
 * 5. Lambda layer (LAMBDA_RETRY_ATTEMPTS = 10, the deployed event source mapping's retryAttempts):
 *    a replicate invocation that could not write every key fails its records, and Lambda delivers
 *    them again up to 10 more times before the on-failure queue. Worst case: 11 invocations, each
 *    at most 60 HTTP requests per BatchWriteItem (layer 2); the handler itself does not retry.
 * 6. Backfill transform layer (BACKFILL_TRANSFORM_ATTEMPTS = 8, APPLY_RETRY's delays): the backfill
 *    copy re-runs the transform of keys whose transform threw; writes are not retried here (layer 2
 *    did). Worst case: 8 transform calls per item.
 * 7. Failover layer (REGIONAL_MEMBER_ATTEMPTS = 3 per member): the regional client
 *    (dynamodb/regional-client.ts) gives each member's SDK client 3 attempts, within a per-member
 *    deadline, and then sends a read to the next healthy member instead of retrying further. Worst
 *    case per read: 3 x members HTTP requests. Writes are never re-sent to another member after they
 *    were sent.
 *
 * Waiting for a table to become ACTIVE is polling bounded by a deadline, not a retry (TABLE_POLL); so
 * is waiting for a native export to complete (EXPORT_POLL).
 */
import type { RetryPolicy } from './backoff.js';

/** Layer 1: attempts per HTTP request by the SDK's retry strategy. */
export const SDK_REQUEST_ATTEMPTS = 6;

/** Layer 2: sends of one BatchWriteItem/BatchGetItem batch (unprocessed items, throttled requests). */
export const BATCH_RETRY: RetryPolicy = { maxAttempts: 10, baseDelayMs: 50, maxDelayMs: 5_000 };

/** Layer 3: GetRecords calls (and the backfill's position polls) per page. */
export const STREAM_READ_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000 };

/** Layer 4: applies of one stream batch by the runner. Unbounded: see the module comment. */
export const APPLY_RETRY: RetryPolicy = { maxAttempts: Infinity, baseDelayMs: 100, maxDelayMs: 10_000 };

/** Layer 5: re-deliveries of a failed batch by the Lambda event source mapping (CDK retryAttempts). */
export const LAMBDA_RETRY_ATTEMPTS = 10;

/** Layer 6: transform runs per item in the backfill copy, with APPLY_RETRY's delays. */
export const BACKFILL_TRANSFORM_ATTEMPTS = 8;

/** Layer 7: attempts per request on one member of a regional client before the next member. */
export const REGIONAL_MEMBER_ATTEMPTS = 3;

/** Not a retry: the delay between DescribeTable polls while a table becomes ACTIVE (deadline-bounded). */
export const TABLE_POLL: RetryPolicy = { maxAttempts: Infinity, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Not a retry: the delay between DescribeExport polls while an export runs (deadline-bounded). */
export const EXPORT_POLL: RetryPolicy = { maxAttempts: Infinity, baseDelayMs: 500, maxDelayMs: 30_000 };
