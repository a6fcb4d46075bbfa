/**
 * Metrics from the Lambda handlers in CloudWatch Embedded Metric Format (EMF): one JSON log line per
 * batch and destination, which CloudWatch Logs turns into metrics without any API call (nothing to
 * grant, nothing to batch, no latency added to the invocation). A document is
 *
 *   { "_aws": { "Timestamp": <epoch ms>, "CloudWatchMetrics": [{ "Namespace": "...",
 *       "Dimensions": [["SourceTable", "ReplicaTable"]], "Metrics": [{ "Name": "...", "Unit": "..." }] }] },
 *     "SourceTable": "...", "ReplicaTable": "...", "<metric name>": <number>, ... }
 *
 * Dimension values are strings on the root; each metric's value is a number on the root.
 */
import { tableOfStreamArn } from '../core/change-sources.js';

export const DEFAULT_METRICS_NAMESPACE = 'DynamoDBReplicator';

/**
 * The metric and dimension names the handlers emit, in one place: the CDK dashboard and alarms
 * (cdk/dashboard.ts, cdk/verify-schedule.ts) chart exactly these.
 */
export const METRIC = {
  recordsReceived: 'RecordsReceived',
  changesApplied: 'ChangesApplied',
  failedRecords: 'FailedRecords',
  rejectedRecords: 'RejectedRecords',
  retries: 'Retries',
  replicationLag: 'ReplicationLag',
  /**
   * Reserved for multi-active replication: writes that lost to a newer write from another
   * region, with the SourceTable and ReplicaTable dimensions. Charted on the dashboard already.
   */
  conflicts: 'Conflicts',
  /** The verify job (lambda/verify.ts): keys that differ between the two sides of a check. */
  discrepancies: 'Discrepancies',
  /** The verify job: when a check last completed, in epoch seconds. */
  verifiedAt: 'VerifiedAt',
} as const;

export const DIMENSION = {
  sourceTable: 'SourceTable',
  replicaTable: 'ReplicaTable',
  backupLocation: 'BackupLocation',
} as const;

export type MetricUnit = 'Count' | 'Milliseconds' | 'None';

export interface MetricValue {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number;
}

export interface MetricsDocument {
  readonly namespace: string;
  /** Dimension name -> value; together they form the document's one dimension set. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly metrics: readonly MetricValue[];
  /** Epoch milliseconds; default now. */
  readonly timestamp?: number;
}

/** CloudWatch's limits: at most 30 dimensions and 100 metrics per directive. */
const MAX_DIMENSIONS = 30;
const MAX_METRICS = 100;

/** The EMF document as a plain object (tests parse lines back into this shape). */
export function emfDocument(doc: MetricsDocument): Record<string, unknown> {
  const dimensionNames = Object.keys(doc.dimensions);
  if (dimensionNames.length > MAX_DIMENSIONS || doc.metrics.length > MAX_METRICS)
    throw new RangeError(`EMF allows ${MAX_DIMENSIONS} dimensions and ${MAX_METRICS} metrics per document`);
  if (doc.namespace.length === 0 || doc.namespace.length > 255)
    throw new RangeError('EMF namespace must have 1 to 255 characters');
  const root: Record<string, unknown> = {
    _aws: {
      Timestamp: Math.round(doc.timestamp ?? Date.now()),
      CloudWatchMetrics: [
        {
          Namespace: doc.namespace,
          Dimensions: [dimensionNames],
          Metrics: doc.metrics.map((m) => ({ Name: m.name, Unit: m.unit })),
        },
      ],
    },
  };
  for (const [name, value] of Object.entries(doc.dimensions)) root[name] = value;
  for (const m of doc.metrics) {
    if (!Number.isFinite(m.value)) throw new RangeError(`EMF metric ${m.name} must be a finite number`);
    root[m.name] = m.value;
  }
  return root;
}

export function emfLine(doc: MetricsDocument): string {
  return JSON.stringify(emfDocument(doc));
}

/** Where EMF lines go: stdout by default, which Lambda sends to the function's log group. */
/**
 * The EMF line of one finished verify check (the verify function's and a scheduled verify job's
 * alike, so the alarms see one metric): its discrepancies and when it was verified (epoch seconds).
 */
export function verifyCheckLine(
  namespace: string | undefined,
  dimensions: Record<string, string>,
  discrepancies: number,
  verifiedAt: number,
): string {
  return emfLine({
    namespace: namespace ?? DEFAULT_METRICS_NAMESPACE,
    dimensions,
    metrics: [
      { name: METRIC.discrepancies, unit: 'Count', value: discrepancies },
      { name: METRIC.verifiedAt, unit: 'None', value: Math.floor(verifiedAt / 1000) },
    ],
    timestamp: verifiedAt,
  });
}

export type MetricsWriter = (line: string) => void;

export const stdoutMetrics: MetricsWriter = (line) => {
  process.stdout.write(line + '\n');
};

/** The figures of one batch, as the handlers know them after applying it. */
export interface BatchFigures {
  /** Records in the event. */
  readonly received: number;
  /** Records durably applied (replicate) or logged (backup). */
  readonly applied: number;
  /** Records not durably applied: Lambda delivers them again. */
  readonly failed: number;
  /** Records whose item breaks one of DynamoDB's limits: reported, not applied, not delivered again. */
  readonly rejected: number;
  /** Requests sent again for unprocessed items. */
  readonly retries: number;
  /** Creation times (epoch ms) of the batch's records that carry one. */
  readonly creationTimes: readonly number[];
}

/**
 * Replication lag of a batch: now minus the oldest record's creation time, in ms (the worst record
 * of the batch; Lambda gives creation times in whole seconds, so this is precise to about a second).
 * Undefined when no record carries a creation time.
 */
export function batchLagMs(creationTimes: readonly number[], now: number): number | undefined {
  if (creationTimes.length === 0) return undefined;
  let oldest = Infinity;
  for (const t of creationTimes) if (t < oldest) oldest = t;
  return Math.max(0, now - oldest);
}

/**
 * The metric values of one batch: RecordsReceived, ChangesApplied, FailedRecords, RejectedRecords,
 * Retries, ReplicationLag.
 */
export function batchMetrics(figures: BatchFigures, now: number): MetricValue[] {
  const metrics: MetricValue[] = [
    { name: METRIC.recordsReceived, unit: 'Count', value: figures.received },
    { name: METRIC.changesApplied, unit: 'Count', value: figures.applied },
    { name: METRIC.failedRecords, unit: 'Count', value: figures.failed },
    { name: METRIC.rejectedRecords, unit: 'Count', value: figures.rejected },
    { name: METRIC.retries, unit: 'Count', value: figures.retries },
  ];
  const lag = batchLagMs(figures.creationTimes, now);
  if (lag !== undefined) metrics.push({ name: METRIC.replicationLag, unit: 'Milliseconds', value: lag });
  return metrics;
}

/**
 * Writes one EMF line per destination for a batch: dimensions SourceTable plus the destination's
 * dimension (ReplicaTable for `replicate`, e.g. `eu-west-1/users`; BackupLocation for `backup`).
 */
export function emitBatchMetrics(
  write: MetricsWriter,
  options: {
    readonly namespace: string;
    readonly sourceTable: string;
    readonly destinations: readonly { readonly dimension: string; readonly value: string }[];
    readonly figures: BatchFigures;
    readonly now?: number;
  },
): void {
  const now = options.now ?? Date.now();
  const metrics = batchMetrics(options.figures, now);
  for (const d of options.destinations) {
    write(
      emfLine({
        namespace: options.namespace,
        dimensions: { [DIMENSION.sourceTable]: options.sourceTable, [d.dimension]: d.value },
        metrics,
        timestamp: now,
      }),
    );
  }
}

/** The source table's name from a Lambda stream event's eventSourceARN; "unknown" when absent. */
export function eventSourceTable(event: unknown): string {
  const arn = (event as { Records?: { eventSourceARN?: unknown }[] }).Records?.[0]?.eventSourceARN;
  if (typeof arn !== 'string') return 'unknown';
  try {
    return tableOfStreamArn(arn).table;
  } catch {
    return 'unknown';
  }
}
