/**
 * The `backup` Lambda handler: subscribed to a table's stream, it appends each batch to the table's
 * change log at `s3://<BackupBucket>/<BackupPrefix>/<table>/` as one gzipped segment (one PUT per
 * batch; see backup/change-log.ts). With the event source mapping's BatchSize at 100 or more (and a
 * MaximumBatchingWindowInSeconds so quiet periods still fill batches), that is at most one PUT per
 * 100 changes.
 *
 * Environment (validated on the first invocation of a container, errors name the variable):
 * - BackupBucket (required), BackupPrefix (optional folder inside the bucket), BackupRegion (the
 *   bucket's region; default AWS_REGION), BackupEndpoint (optional: an S3-compatible endpoint).
 * - TurnoverRole (BEFORE|AFTER) + TurnoverAt (epoch ms): the cut-over filter, as for `replicate`.
 * - LogLevel: debug|info|warn|error. MetricsNamespace: the EMF metrics' namespace (metrics.ts).
 *
 * Outcome per batch: an empty batch succeeds; a malformed event (including one that mixes streams or
 * whose sequence numbers do not increase, see readLambdaBatch) or an insert/update without a new
 * image (a KEYS_ONLY or OLD_IMAGE stream: the log could not rebuild items) throws before anything
 * is written; a record whose image DynamoDB could not hold (nested too deep, an empty attribute
 * name) is rejected as by `replicate`: logged, counted in RejectedRecords, not logged to S3; when some segments fail to upload, the response names the first sequence number of
 * the first failed segment; when none could be written, the handler throws so Lambda retries.
 * Lambda records carry no shard id, so the log files them under the stream's label.
 *
 * Before the first write to a table's log, a container claims it (backup/log-identity.ts): a log of
 * another table or key schema is refused (the batch throws, nothing is written); the table, its key
 * attributes and the stream are recorded. A claim that succeeded is not repeated by that container
 * (a log's identity is written once and never changes).
 */
import { readLambdaBatch, tableOfStreamArn, type LambdaBatch } from '../core/change-sources.js';
import { ConfigError, InvalidDataError } from '../core/errors.js';
import { isRegionName } from '../core/location.js';
import { applyTurnover, type TurnoverFilter } from '../core/turnover.js';
import { compareSequenceNumbers, type Change } from '../core/change.js';
import { openObjectStore } from '../storage/open-store.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { assertNewImages, writeChangeBatch, type LoggedBatch } from '../backup/change-log.js';
import { claimLog, keyAttributesOf, streamOfArn } from '../backup/log-identity.js';
import {
  BatchFailedError,
  batchResponse,
  rejectedRecordFields,
  streamBatchHandler,
  type StreamBatchResponse,
} from './batch-response.js';
import { envLogLevel, envTurnover, envValue, requireEnv, type Env } from './config.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import {
  DEFAULT_METRICS_NAMESPACE,
  DIMENSION,
  emitBatchMetrics,
  stdoutMetrics,
  type MetricsWriter,
} from './metrics.js';
import type { LambdaContext } from './replicate.js';

export interface BackupConfig {
  readonly bucket: string;
  /** Folder inside the bucket; each table's log is `<prefix>/<table>/`. */
  readonly prefix: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly turnover?: TurnoverFilter;
  readonly logLevel: LogLevel;
  readonly metricsNamespace?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The `backup` handler's configuration; throws ConfigError naming the first bad variable. */
export function readBackupConfig(env: Env): BackupConfig {
  const bucket = requireEnv(env, 'BackupBucket', 'the S3 bucket the change log is written to');
  if (!BUCKET.test(bucket))
    throw new ConfigError(`BackupBucket must be an S3 bucket name (not a URL or path), got "${bucket}"`);
  const prefix = (envValue(env, 'BackupPrefix') ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '.' || p === '..'))
    throw new ConfigError(`BackupPrefix must not contain "." or ".." folders, got "${prefix}"`);
  const region = envValue(env, 'BackupRegion') ?? envValue(env, 'AWS_REGION');
  if (region !== undefined && !isRegionName(region))
    throw new ConfigError(`BackupRegion must be an AWS region such as eu-west-1, got "${region}"`);
  const endpoint = envValue(env, 'BackupEndpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(endpoint))
    throw new ConfigError(`BackupEndpoint must be an http(s)://host[:port] URL, got "${endpoint}"`);
  const turnover = envTurnover(env);
  const metricsNamespace = envValue(env, 'MetricsNamespace');
  return {
    bucket,
    prefix,
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(turnover ? { turnover } : {}),
    logLevel: envLogLevel(env),
    ...(metricsNamespace ? { metricsNamespace } : {}),
  };
}

export type BackupHandler = (event: unknown, context?: LambdaContext) => Promise<StreamBatchResponse>;

export interface BackupDeps {
  /** The store holding every table's log (rooted at bucket/prefix); default: S3 from the config. */
  readonly store?: ObjectStore;
  readonly logger?: Logger;
  /** Clock for changes without a creation time (tests). */
  readonly now?: () => number;
  /** Where EMF metric lines go; default stdout (the function's log group). */
  readonly metrics?: MetricsWriter;
}

/** The stream a Lambda event came from: table name and stream label, from eventSourceARN. */
function eventSource(
  arn: string | undefined,
  count: number,
): { table: string; streamArn: string; streamLabel: string } {
  if (arn === undefined)
    throw new InvalidDataError(
      `backup needs the table name from eventSourceARN, but the ${count} records name none`,
    );
  const { table } = tableOfStreamArn(arn);
  return { table, streamArn: arn, streamLabel: streamOfArn(arn).label };
}

/**
 * Builds the backup handler from a config object (the ready-made `backup` below reads it from
 * process.env).
 *
 * @example
 * export const handler = createBackupHandler({ bucket: 'my-change-logs', prefix: 'logs', logLevel: 'info' });
 * // Each table's change log goes to s3://my-change-logs/logs/<table>/; restore it with restoreIntoTable.
 */
export function createBackupHandler(config: BackupConfig, deps: BackupDeps = {}): BackupHandler {
  const baseLog = deps.logger ?? createLogger({ level: config.logLevel });
  const root = deps.store ?? openBackupStore(config);
  const parts: HandlerParts = {
    config,
    root,
    now: deps.now ?? Date.now,
    metrics: deps.metrics ?? stdoutMetrics,
    claim: logClaimer(root),
  };
  return streamBatchHandler(baseLog, (event, log) => logBatch(event, parts, log));
}

/** What a handler keeps across invocations of its container. */
interface HandlerParts {
  readonly config: BackupConfig;
  /** The store holding every table's log. */
  readonly root: ObjectStore;
  readonly now: () => number;
  readonly metrics: MetricsWriter;
  readonly claim: (table: string, streamArn: string, changes: readonly Change[]) => Promise<void>;
}

/** The BackupLocation dimension of the metrics: `s3://<bucket>/<prefix>`. */
export function backupLocationLabel(config: Pick<BackupConfig, 'bucket' | 'prefix'>): string {
  return `s3://${[config.bucket, config.prefix].filter(Boolean).join('/')}`;
}

/** The S3 store at BackupBucket/BackupPrefix. */
export function openBackupStore(config: BackupConfig): ObjectStore {
  return openObjectStore(
    { kind: 's3', bucket: config.bucket, prefix: config.prefix },
    {
      s3: {
        ...(config.region ? { region: config.region } : {}),
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      },
    },
  );
}

/**
 * Claims a table's log before its first write (backup/log-identity.ts); a claim that succeeded,
 * by table, stream and key attributes, is not repeated.
 */
function logClaimer(root: ObjectStore): HandlerParts['claim'] {
  const claimed = new Set<string>();
  return async (table, streamArn, changes) => {
    const keyAttributes = sameKeyAttributes(changes);
    const id = `${table}\n${streamArn}\n${JSON.stringify(keyAttributes)}`;
    if (claimed.has(id)) return;
    const store = root.at(table);
    await claimLog(
      store,
      { table, keyAttributes, stream: streamOfArn(streamArn) },
      formatStoreLocation(store.location),
    );
    claimed.add(id);
  };
}

/** The key attributes every change of the batch has; InvalidDataError naming a record that differs. */
function sameKeyAttributes(changes: readonly Change[]): ReturnType<typeof keyAttributesOf> {
  const keyAttributes = keyAttributesOf((changes[0] as Change).keys);
  const expected = JSON.stringify(keyAttributes);
  for (const c of changes)
    if (JSON.stringify(keyAttributesOf(c.keys)) !== expected)
      throw new InvalidDataError(
        `record ${c.sequenceNumber} has key attributes ${Object.keys(c.keys).sort().join(', ')}, unlike the first record of the batch (${keyAttributes.map((a) => a.name).join(', ')})`,
      );
  return keyAttributes;
}

/** One batch: read and check the event, log rejected records, claim the log, write, respond. */
async function logBatch(event: unknown, parts: HandlerParts, log: Logger): Promise<StreamBatchResponse> {
  const started = performance.now();
  const batch = readLambdaBatch(event);
  const received = batch.changes;
  const total = received.length + batch.rejected.length;
  if (total === 0) {
    log.info('empty batch', { records: 0 });
    return batchResponse(undefined);
  }
  const { config } = parts;
  const { table, streamArn, streamLabel } = eventSource(batch.streamArn, total);
  const kept = applyTurnover(received, config.turnover);
  assertNewImages(kept);
  const emit = (applied: number, failed: number): void =>
    emitBackupMetrics(parts, { table, batch, applied, failed });
  if (batch.rejected.length > 0) {
    // Not a retry: delivering these records again cannot make their images valid.
    log.error('records rejected', {
      table,
      records: total,
      rejected: batch.rejected.length,
      rejectedRecords: batch.rejected.map(rejectedRecordFields),
    });
  }
  if (kept.length === 0) {
    if (batch.rejected.length > 0) emit(0, 0);
    log.info('batch skipped by the cut-over filter', {
      table,
      records: received.length,
      turnover: config.turnover,
    });
    return batchResponse(undefined);
  }
  const changes = kept.map((c) => (c.shardId ? c : { ...c, shardId: `stream-${streamLabel}` }));
  await parts.claim(table, streamArn, changes);
  const result = await writeChangeBatch(parts.root.at(table), changes, { now: parts.now(), table });
  emit(result.written, kept.length - result.written);
  return respond(log, result, {
    table,
    records: total,
    logged: result.written,
    skipped: received.length - kept.length,
    rejected: batch.rejected.length,
    objects: result.objects.length,
    firstSequenceNumber: received[0]?.sequenceNumber,
    lastSequenceNumber: received[received.length - 1]?.sequenceNumber,
    writeMs: Math.round(performance.now() - started),
  });
}

/** The batch's EMF metrics, with the backup location as the destination dimension. */
function emitBackupMetrics(
  parts: HandlerParts,
  o: { table: string; batch: LambdaBatch; applied: number; failed: number },
): void {
  const { config } = parts;
  const { batch } = o;
  emitBatchMetrics(parts.metrics, {
    namespace: config.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
    sourceTable: o.table,
    destinations: [{ dimension: DIMENSION.backupLocation, value: backupLocationLabel(config) }],
    figures: {
      received: batch.changes.length + batch.rejected.length,
      applied: o.applied,
      failed: o.failed,
      rejected: batch.rejected.length,
      retries: 0,
      creationTimes: batch.changes.flatMap((c) => c.approximateCreationTime ?? []),
    },
    now: parts.now(),
  });
}

/**
 * The response for a written batch: success, or the first sequence number of the first failed
 * segment; throws BatchFailedError (Lambda retries the batch) when nothing could be logged.
 */
function respond(log: Logger, result: LoggedBatch, fields: Record<string, unknown>): StreamBatchResponse {
  if (result.failed.length === 0) {
    log.info('batch logged', fields);
    return batchResponse(undefined);
  }
  const firstFailed = result.failed
    .map((f) => f.segment.header.firstSequenceNumber)
    .sort(compareSequenceNumbers)[0] as string;
  log.error('segments failed', {
    ...fields,
    lowestFailedSequenceNumber: firstFailed,
    failed: result.failed.map((f) => ({ object: f.segment.name, error: f.error })),
  });
  if (result.written === 0)
    throw new BatchFailedError(
      `no record of the batch could be logged: ${result.failed.length} segment(s) failed, e.g. ${String((result.failed[0]?.error as Error | undefined)?.message)}`,
    );
  return batchResponse(firstFailed);
}

let defaultHandler: BackupHandler | undefined;

/** The Lambda entry point: `dynamodb-replicator/lambda` -> `backup`. */
export async function backup(event: unknown, context?: LambdaContext): Promise<StreamBatchResponse> {
  if (!defaultHandler) {
    try {
      defaultHandler = createBackupHandler(readBackupConfig(process.env));
    } catch (error) {
      createLogger().error('invalid configuration', { error });
      throw error;
    }
  }
  return defaultHandler(event, context);
}
