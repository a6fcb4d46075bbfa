/**
 * The `replicate` Lambda handler: subscribed to a table's stream, it applies each batch to one or
 * several replica tables through the apply engine. Configuration comes from environment variables
 * (see config.ts), validated on the first invocation of a container and kept; replica tables are
 * checked (exist, same key schema) once and the result kept too.
 *
 * Outcome per batch: an empty batch succeeds; a malformed event (including one that mixes streams or
 * whose sequence numbers do not increase, see readLambdaBatch), a stream without images (and no
 * read-through) or records whose key does not fit the replicas throw before anything is written;
 * records whose item DynamoDB would refuse whatever the moment (core/item-limits.ts) are rejected:
 * logged with key and sequence number, counted in RejectedRecords, not written and not delivered
 * again, while the rest of the batch goes on; when some keys fail, the response names the lowest
 * sequence number not durably applied (`batchItemFailures`, which needs FunctionResponseTypes
 * ReportBatchItemFailures on the event source mapping); when nothing could be applied, the handler
 * throws so Lambda retries the batch.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Change } from '../core/change.js';
import { readLambdaBatch, tableOfStreamArn, type RejectedRecord } from '../core/change-sources.js';
import { toDynamoJson } from '../core/ddb-json.js';
import { ConfigError, InvalidDataError } from '../core/errors.js';
import { formatServiceLocation, type ServiceLocation } from '../core/location.js';
import { applyChanges, prepareReplicas, type ApplyResult, type ReplicaTarget } from '../replicate/engine.js';
import { loadTransform, type TransformFn } from '../replicate/transform.js';
import type { KeySchema } from '../core/types.js';
import type { RetryPolicy } from '../core/backoff.js';
import {
  batchResponse,
  rejectedRecordFields,
  respondToBatch,
  streamBatchHandler,
  type StreamBatchResponse,
} from './batch-response.js';
import { replicaClient, serviceClient } from './clients.js';
import { readReplicateConfig, type ReplicaConfig, type ReplicateConfig } from './config.js';
import { lazyEntry } from './entry.js';
import { createGroupReplicateHandler } from './group.js';
import { isGroupMode, readGroupReplicateConfig } from './group-config.js';
import { createLogger, type Logger } from './log.js';
import {
  DEFAULT_METRICS_NAMESPACE,
  DIMENSION,
  emitBatchMetrics,
  eventSourceTable,
  stdoutMetrics,
  type MetricsWriter,
} from './metrics.js';

/** The part of Lambda's context object the handlers use. */
export interface LambdaContext {
  readonly awsRequestId?: string;
  readonly functionName?: string;
}

export type ReplicateHandler = (event: unknown, context?: LambdaContext) => Promise<StreamBatchResponse>;

export interface ReplicateDeps {
  /** Builds one replica's client; default: from its location and credentials (config.ts). */
  readonly replicaClient?: (replica: ReplicaConfig) => DynamoDBClient;
  /** Builds the read-through client for the source table's region or endpoint. */
  readonly sourceClient?: (location: ServiceLocation) => DynamoDBClient;
  /** A transform function instead of loading config.transformModule. */
  readonly transform?: TransformFn;
  readonly logger?: Logger;
  /** Retry policy for unprocessed writes; default BATCH_RETRY (tests shorten it). */
  readonly retry?: RetryPolicy;
  /** Where EMF metric lines go; default stdout (the function's log group). */
  readonly metrics?: MetricsWriter;
}

interface Setup {
  readonly replicas: readonly ReplicaTarget[];
  readonly keySchema: KeySchema;
  readonly transform?: TransformFn;
}

function sourceLocation(
  config: ReplicateConfig,
  arn: string | undefined,
  changes: readonly Change[],
): { location: ServiceLocation; table: string } {
  if (arn === undefined) {
    throw new InvalidDataError(
      `read-through needs the source table from eventSourceARN, but the ${changes.length} records name none`,
    );
  }
  const source = tableOfStreamArn(arn);
  const rt = config.readThrough;
  const location: ServiceLocation =
    rt === undefined || rt.kind === 'source-region' ? { kind: 'aws', region: source.region } : rt;
  return { location, table: source.table };
}

const NOTHING_APPLIED: ApplyResult = {
  received: 0,
  applied: 0,
  skipped: 0,
  failed: [],
  rejected: [],
  rejectedRecords: 0,
  keys: 0,
  durationMs: 0,
  retries: 0,
};

/** Rejected records as the log names them: from the event (unreadable images) and from the plan. */
function rejectedList(
  unreadable: readonly RejectedRecord[],
  result: ApplyResult,
): ReturnType<typeof rejectedRecordFields>[] {
  return [
    ...unreadable.map(rejectedRecordFields),
    ...result.rejected.map((r) => rejectedRecordFields({ ...r, sequenceNumber: r.firstSequenceNumber })),
  ];
}

function summary(
  changes: readonly Change[],
  result: ApplyResult,
  replicas: readonly ReplicaTarget[],
  counts: { received: number; rejected: number },
): Record<string, unknown> {
  const { received: records, rejected } = counts;
  return {
    records,
    applied: result.applied,
    skipped: result.skipped,
    rejected,
    keys: result.keys,
    failedKeys: result.failed.length,
    firstSequenceNumber: changes[0]?.sequenceNumber,
    lastSequenceNumber: changes[changes.length - 1]?.sequenceNumber,
    replicas: replicas.map((r) => r.label ?? r.table),
    applyMs: Math.round(result.durationMs),
  };
}

/**
 * Builds the replication handler from a config object (the ready-made `replicate` below reads it
 * from process.env).
 *
 * @example
 * export const handler = createReplicateHandler({
 *   replicas: [{ table: 'users', location: parseServiceLocation('eu-west-1'), label: 'eu-west-1/users' }],
 *   baseDir: process.cwd(),
 *   concurrency: 8,
 *   logLevel: 'info',
 * });
 * // Lambda calls handler(event) with a DynamoDB stream event; it returns { batchItemFailures }.
 */
export function createReplicateHandler(config: ReplicateConfig, deps: ReplicateDeps = {}): ReplicateHandler {
  if (config.replicas.length === 0)
    throw new ConfigError('no replica configured: set ReplicaTable or Replicas');
  const baseLog = deps.logger ?? createLogger({ level: config.logLevel });
  const replicas = replicaTargets(config, deps);
  const parts: HandlerParts = {
    config,
    deps,
    replicas,
    init: setupOnce(config, deps, replicas, baseLog),
    readThroughClient: sourceClientCache(deps.sourceClient ?? serviceClient),
  };
  return streamBatchHandler(baseLog, (event, log) => replicateBatch(event, parts, log));
}

/** What a handler keeps across invocations of its container. */
interface HandlerParts {
  readonly config: ReplicateConfig;
  readonly deps: ReplicateDeps;
  readonly replicas: readonly ReplicaTarget[];
  /** The checked setup, made on first use. */
  readonly init: () => Promise<Setup>;
  /** One read-through client per source location, kept. */
  readonly readThroughClient: (location: ServiceLocation) => DynamoDBClient;
}

/** One target per configured replica, each with its own client. */
function replicaTargets(config: ReplicateConfig, deps: ReplicateDeps): ReplicaTarget[] {
  const fallbackRegion = process.env.AWS_REGION ?? 'us-east-1';
  const makeReplicaClient = deps.replicaClient ?? ((r: ReplicaConfig) => replicaClient(r, fallbackRegion));
  return config.replicas.map((r) => ({ client: makeReplicaClient(r), table: r.table, label: r.label }));
}

/**
 * The setup (transform loaded, replica tables checked), made once and kept; a failed setup is
 * forgotten so the next batch tries again (a replica table created later, or a transient error,
 * must not poison the container).
 */
function setupOnce(
  config: ReplicateConfig,
  deps: ReplicateDeps,
  replicas: readonly ReplicaTarget[],
  log: Logger,
): () => Promise<Setup> {
  let setup: Promise<Setup> | undefined;
  const prepare = async (): Promise<Setup> => {
    const started = performance.now();
    const transform =
      deps.transform ??
      (config.transformModule
        ? await loadTransform(config.transformModule, { baseDir: config.baseDir, label: 'TransformModule' })
        : undefined);
    const prepared = await prepareReplicas(replicas);
    log.info('replicas ready', {
      replicas: replicas.map((r) => r.label),
      keySchema: prepared.keySchema,
      transform: transform !== undefined,
      turnover: config.turnover,
      readThrough: config.readThrough !== undefined,
      initMs: Math.round(performance.now() - started),
    });
    return { replicas, keySchema: prepared.keySchema, ...(transform ? { transform } : {}) };
  };
  return () => {
    setup ??= prepare();
    setup.catch(() => (setup = undefined));
    return setup;
  };
}

/** A client per source location, built on first use and kept. */
function sourceClientCache(make: (location: ServiceLocation) => DynamoDBClient) {
  const clients = new Map<string, DynamoDBClient>();
  return (location: ServiceLocation): DynamoDBClient => {
    const id = formatServiceLocation(location);
    let client = clients.get(id);
    if (!client) clients.set(id, (client = make(location)));
    return client;
  };
}

/** One batch: read and check the event, apply it to every replica, emit metrics, respond. */
async function replicateBatch(
  event: unknown,
  parts: HandlerParts,
  log: Logger,
): Promise<StreamBatchResponse> {
  const { config, deps, replicas } = parts;
  const batch = readLambdaBatch(event);
  const changes = batch.changes;
  if (changes.length === 0 && batch.rejected.length === 0) {
    log.info('empty batch', { records: 0 });
    return batchResponse(undefined);
  }
  const { keySchema, transform } = await parts.init();
  let readThrough: { client: DynamoDBClient; table: string } | undefined;
  if (config.readThrough && changes.length > 0) {
    const source = sourceLocation(config, batch.streamArn, changes);
    readThrough = { client: parts.readThroughClient(source.location), table: source.table };
  }
  if (log.isDebug) logReceived(log, changes);
  const result =
    changes.length === 0
      ? NOTHING_APPLIED
      : await applyChanges(changes, {
          replicas,
          keySchema,
          concurrency: config.concurrency,
          ...(deps.retry ? { retry: deps.retry } : {}),
          ...(transform ? { transform } : {}),
          ...(config.turnover ? { turnover: config.turnover } : {}),
          ...(readThrough ? { readThrough } : {}),
        });
  const rejected = batch.rejected.length + result.rejectedRecords;
  const received = changes.length + batch.rejected.length;
  emitReplicateMetrics(event, parts, { changes, result, received, rejected });
  const fields = summary(changes, result, replicas, { received, rejected });
  if (rejected > 0) {
    // Not a retry: delivering these records again cannot make DynamoDB accept them. The replica
    // keeps the item's previous state; the log names each record for a repair.
    log.error('records rejected', { ...fields, rejectedRecords: rejectedList(batch.rejected, result) });
  }
  return respondToBatch(log, result, fields);
}

/** Debug level: every change of the batch, keys and new image as DynamoDB JSON. */
function logReceived(log: Logger, changes: readonly Change[]): void {
  log.debug('batch received', {
    changes: changes.map((c) => ({
      eventName: c.eventName,
      sequenceNumber: c.sequenceNumber,
      keys: toDynamoJson(c.keys),
      ...(c.newImage ? { newImage: toDynamoJson(c.newImage) } : {}),
    })),
  });
}

/** The batch's EMF metrics, one line per replica. */
function emitReplicateMetrics(
  event: unknown,
  parts: HandlerParts,
  o: { changes: readonly Change[]; result: ApplyResult; received: number; rejected: number },
): void {
  const { result, received, rejected } = o;
  emitBatchMetrics(parts.deps.metrics ?? stdoutMetrics, {
    namespace: parts.config.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
    sourceTable: eventSourceTable(event),
    destinations: parts.replicas.map((r) => ({
      dimension: DIMENSION.replicaTable,
      value: r.label ?? r.table,
    })),
    figures: {
      received,
      applied: result.applied,
      failed: received - result.applied - result.skipped - rejected,
      rejected,
      retries: result.retries,
      creationTimes: o.changes.flatMap((c) => c.approximateCreationTime ?? []),
    },
  });
}

/** The Lambda entry point: `dynamodb-replicator/lambda` -> `replicate` (group mode with GroupMemberId). */
export const replicate: ReplicateHandler = lazyEntry(() =>
  isGroupMode(process.env)
    ? createGroupReplicateHandler(readGroupReplicateConfig(process.env))
    : createReplicateHandler(readReplicateConfig(process.env)),
);
