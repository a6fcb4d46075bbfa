/**
 * The `replicate` handler in group mode (group-config.ts): the function of one member of a
 * multi-active group, subscribed to that member's stream. Each batch goes to every other member
 * through GroupBatchApplier — the runner's decisions (group-decide.ts) and conditional writes —
 * with the member's memory of its own local writes kept per shard in the container and read from
 * the stream when the container cannot show it is current (docs/multi-active.md, "Lambda").
 *
 * The response keeps the one-way handler's meaning: the lowest sequence number not durable on every
 * other member (batchItemFailures), or a thrown BatchFailedError when nothing could be applied.
 * The event source mapping must use ParallelizationFactor 1 (the memory needs the shard in order).
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { readLambdaBatch, tableOfStreamArn } from '../core/change-sources.js';
import { InvalidDataError } from '../core/errors.js';
import type { ServiceLocation } from '../core/location.js';
import { createStreamsClient } from '../streams/client.js';
import { prepareReplicas } from '../replicate/engine.js';
import { GroupBatchApplier, type GroupBatchResult } from '../replicate/group-batches.js';
import type { GroupTable } from '../replicate/group-direction.js';
import { checkMetadataNames } from '../replicate/group-stamp.js';
import { openObjectStore } from '../storage/open-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  batchResponse,
  respondToBatch,
  streamBatchHandler,
  type StreamBatchResponse,
} from './batch-response.js';
import { replicaClient, serviceClient } from './clients.js';
import type { ReplicaConfig } from './config.js';
import type { GroupReplicateConfig } from './group-config.js';
import { createLogger, type Logger } from './log.js';
import {
  DEFAULT_METRICS_NAMESPACE,
  emitBatchMetrics,
  emfLine,
  stdoutMetrics,
  type MetricsWriter,
} from './metrics.js';
import type { ReplicateHandler } from './replicate.js';

export interface GroupReplicateDeps {
  /** The member's own table's client (repairs), from the stream ARN's region by default. */
  readonly selfClient?: (location: ServiceLocation) => DynamoDBClient;
  /** The Streams client the memory is read with, for the stream ARN's region by default. */
  readonly streamsClient?: (location: ServiceLocation) => DynamoDBStreamsClient;
  /** Another member's client; default from its location and identity. */
  readonly memberClient?: (member: ReplicaConfig) => DynamoDBClient;
  /** The conflict log; default openObjectStore(config.conflictLog). */
  readonly conflictStore?: ObjectStore;
  readonly logger?: Logger;
  readonly metrics?: MetricsWriter;
}

/**
 * Builds the group-mode handler from a config object (the ready-made `replicate` handler builds it
 * when GroupMemberId is set).
 *
 * @example
 * export const handler = createGroupReplicateHandler(readGroupReplicateConfig(process.env));
 */
export function createGroupReplicateHandler(
  config: GroupReplicateConfig,
  deps: GroupReplicateDeps = {},
): ReplicateHandler {
  const baseLog = deps.logger ?? createLogger({ level: config.logLevel });
  const fallbackRegion = process.env.AWS_REGION ?? 'us-east-1';
  const makeClient = deps.memberClient ?? ((m: ReplicaConfig) => replicaClient(m, fallbackRegion));
  const others: GroupTable[] = config.others.map((m) => ({
    id: m.id,
    client: makeClient(m),
    table: m.table,
  }));
  const store = deps.conflictStore ?? openObjectStore(config.conflictLog);
  const instance = randomUUID().slice(0, 8);
  // One stream per function: the applier (and the container's memory) is made for the first one seen.
  let setup: Promise<{ streamArn: string; applier: GroupBatchApplier }> | undefined;
  const init = (streamArn: string): Promise<{ streamArn: string; applier: GroupBatchApplier }> => {
    setup ??= prepare(streamArn);
    setup.catch(() => (setup = undefined));
    return setup;
  };
  const prepare = async (streamArn: string) => {
    const source = tableOfStreamArn(streamArn);
    const location: ServiceLocation = { kind: 'aws', region: source.region };
    const self: GroupTable = {
      id: config.memberId,
      client: (deps.selfClient ?? serviceClient)(location),
      table: source.table,
    };
    const prepared = await prepareReplicas([self, ...others].map((m) => ({ ...m, label: m.id })));
    checkMetadataNames(config.metadata, prepared.keySchema);
    const applier = new GroupBatchApplier({
      self,
      others,
      ctx: {
        self: config.memberId,
        names: config.metadata,
        keySchema: prepared.keySchema,
        tombstoneTtlMs: config.tombstoneTtlMs,
      },
      streams: (deps.streamsClient ?? ((l: ServiceLocation) => createStreamsClient(l)))(location),
      conflictLog: store,
      concurrency: config.concurrency,
      instance,
    });
    baseLog.info('group member ready', { member: config.memberId, others: others.map((o) => o.id) });
    return { streamArn, applier };
  };
  return streamBatchHandler(baseLog, async (event, log) => {
    const batch = readLambdaBatch(event);
    if (batch.rejected.length > 0)
      throw new InvalidDataError(
        `a group member cannot skip records: ${batch.rejected.length} record(s) of the batch are unreadable`,
      );
    if (batch.changes.length === 0) {
      log.info('empty batch', { records: 0 });
      return batchResponse(undefined);
    }
    if (batch.streamArn === undefined)
      throw new InvalidDataError('a group member needs the eventSourceARN of its stream in each record');
    const { streamArn, applier } = await init(batch.streamArn);
    if (batch.streamArn !== streamArn)
      throw new InvalidDataError(
        `this function follows ${streamArn}; a batch of ${batch.streamArn} was delivered to it`,
      );
    const result = await applier.apply(streamArn, batch.changes);
    emitGroupMetrics(config, deps, streamArn, others, batch.changes, result);
    return respond(log, result);
  });
}

function respond(log: Logger, result: GroupBatchResult): StreamBatchResponse {
  return respondToBatch(log, result, {
    records: result.received,
    applied: result.applied,
    memory: result.memory,
    ...result.counters,
  });
}

/** The one-way handler's batch metrics per other member, plus the group's own counts. */
function emitGroupMetrics(
  config: GroupReplicateConfig,
  deps: GroupReplicateDeps,
  streamArn: string,
  others: readonly GroupTable[],
  changes: readonly { approximateCreationTime?: number }[],
  result: GroupBatchResult,
): void {
  const write = deps.metrics ?? stdoutMetrics;
  const namespace = config.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
  const sourceTable = tableOfStreamArn(streamArn).table;
  emitBatchMetrics(write, {
    namespace,
    sourceTable,
    destinations: others.map((o) => ({ dimension: 'GroupMember', value: o.id })),
    figures: {
      received: result.received,
      applied: result.applied,
      failed: result.received - result.applied,
      rejected: 0,
      retries: 0,
      creationTimes: changes.flatMap((c) => c.approximateCreationTime ?? []),
    },
  });
  const c = result.counters;
  write(
    emfLine({
      namespace,
      dimensions: { SourceTable: sourceTable, Member: config.memberId },
      metrics: [
        { name: 'GroupConflicts', unit: 'Count', value: c.conflicts },
        { name: 'GroupRepairs', unit: 'Count', value: c.repairs },
        {
          name: 'GroupAmbiguousRecords',
          unit: 'Count',
          value: c.ambiguous['stamped-copy-over-local'] + c.ambiguous['unknown-local-version'],
        },
        {
          name: 'GroupMemoryRecordsRead',
          unit: 'Count',
          value: result.memory.kind === 'rebuilt' ? result.memory.records : 0,
        },
      ],
      timestamp: Date.now(),
    }),
  );
}
