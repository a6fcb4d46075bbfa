/**
 * DynamoDB's Export to S3 (ExportTableToPointInTime, DescribeExport): start a full or an incremental
 * export and wait for it. Every SDK failure goes through the one error translation (sdk-errors.ts);
 * an export that ends FAILED is a ServiceError naming its FailureCode and FailureMessage. Waiting is
 * polling with capped backoff under a deadline, never a fixed sleep.
 */
import {
  DescribeExportCommand,
  ExportTableToPointInTimeCommand,
  type DynamoDBClient,
  type ExportDescription,
} from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep } from '../core/backoff.js';
import { ServiceError } from '../core/errors.js';
import { EXPORT_POLL } from '../core/retry-policies.js';
import { formatTime } from '../core/time.js';
import { callDynamo } from './sdk-errors.js';

export interface StartExportOptions {
  readonly table: string;
  readonly tableArn: string;
  readonly bucket: string;
  /** Key prefix in the bucket; DynamoDB writes `<prefix>/AWSDynamoDB/<exportId>/...`. */
  readonly prefix: string;
  /** Account that owns the bucket (S3BucketOwner), for a bucket in another account. */
  readonly bucketOwner?: string;
  readonly sseKmsKeyId?: string;
  /** Full export: the moment exported (default: now, DynamoDB's clock). */
  readonly exportTime?: number;
  /**
   * Incremental export of the changes in [from, to) (epoch ms), with new and old images; without
   * `to`, DynamoDB ends the window at the latest time it has data for (DescribeExport says when).
   */
  readonly incremental?: { readonly from: number; readonly to?: number };
  /** Idempotency token: a retried start with the same token returns the same export. */
  readonly clientToken?: string;
}

/** What an export is doing, as DescribeExport says. */
export interface ExportState {
  readonly arn: string;
  readonly status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  /** The moment a full export represents (epoch ms). */
  readonly exportTime?: number;
  readonly itemCount?: number;
  readonly billedSizeBytes?: number;
  /** The manifest-files.json key DynamoDB reports. */
  readonly manifest?: string;
  readonly failureCode?: string;
  readonly failureMessage?: string;
  /** The window an incremental export covers (epoch ms), as DynamoDB resolved it. */
  readonly window?: { readonly from?: number; readonly to?: number };
}

function stateOf(d: ExportDescription | undefined, table: string): ExportState {
  if (!d?.ExportArn || !d.ExportStatus)
    throw new ServiceError(`DescribeExport for table "${table}" returned no export status`);
  const spec = d.IncrementalExportSpecification;
  return {
    arn: d.ExportArn,
    status: d.ExportStatus,
    ...(d.ExportTime ? { exportTime: d.ExportTime.getTime() } : {}),
    ...(d.ItemCount !== undefined ? { itemCount: d.ItemCount } : {}),
    ...(d.BilledSizeBytes !== undefined ? { billedSizeBytes: d.BilledSizeBytes } : {}),
    ...(d.ExportManifest ? { manifest: d.ExportManifest } : {}),
    ...(d.FailureCode ? { failureCode: d.FailureCode } : {}),
    ...(d.FailureMessage ? { failureMessage: d.FailureMessage } : {}),
    ...(spec
      ? {
          window: {
            ...(spec.ExportFromTime ? { from: spec.ExportFromTime.getTime() } : {}),
            ...(spec.ExportToTime ? { to: spec.ExportToTime.getTime() } : {}),
          },
        }
      : {}),
  };
}

/**
 * Starts an export. The table needs point-in-time recovery: without it DynamoDB refuses, and the
 * error translation makes that a UsageError saying how to enable it.
 */
export async function startExport(client: DynamoDBClient, options: StartExportOptions): Promise<ExportState> {
  const { incremental } = options;
  const response = await callDynamo(
    client,
    { action: 'ExportTableToPointInTime', table: options.table },
    () =>
      client.send(
        new ExportTableToPointInTimeCommand({
          TableArn: options.tableArn,
          S3Bucket: options.bucket,
          ...(options.prefix ? { S3Prefix: options.prefix } : {}),
          ...(options.bucketOwner ? { S3BucketOwner: options.bucketOwner } : {}),
          ...(options.sseKmsKeyId ? { S3SseAlgorithm: 'KMS', S3SseKmsKeyId: options.sseKmsKeyId } : {}),
          ExportFormat: 'DYNAMODB_JSON',
          ...(options.clientToken ? { ClientToken: options.clientToken } : {}),
          ...(incremental
            ? {
                ExportType: 'INCREMENTAL_EXPORT',
                IncrementalExportSpecification: {
                  ExportFromTime: new Date(incremental.from),
                  ...(incremental.to !== undefined ? { ExportToTime: new Date(incremental.to) } : {}),
                  ExportViewType: 'NEW_AND_OLD_IMAGES',
                },
              }
            : {
                ExportType: 'FULL_EXPORT',
                ...(options.exportTime !== undefined ? { ExportTime: new Date(options.exportTime) } : {}),
              }),
        }),
      ),
  );
  return stateOf(response.ExportDescription, options.table);
}

export async function describeExport(
  client: DynamoDBClient,
  arn: string,
  table: string,
): Promise<ExportState> {
  const response = await callDynamo(client, { action: 'DescribeExport', table }, () =>
    client.send(new DescribeExportCommand({ ExportArn: arn })),
  );
  return stateOf(response.ExportDescription, table);
}

export interface WaitForExportOptions {
  /** Give up after this long (default 2 hours: exports have no SLA; large tables take a while). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Called after each poll that found the export still running. */
  readonly onPoll?: (state: ExportState) => void;
  /** Clock (tests). */
  readonly now?: () => number;
}

/**
 * Polls DescribeExport until the export completes. FAILED is a ServiceError with DynamoDB's
 * FailureCode and FailureMessage; the deadline passing is a ServiceError naming the export, which
 * keeps running on AWS's side (wait for it again, or start another).
 */
export async function waitForExport(
  client: DynamoDBClient,
  first: ExportState,
  table: string,
  options: WaitForExportOptions = {},
): Promise<ExportState> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 2 * 60 * 60_000;
  const deadline = now() + timeoutMs;
  let state = first;
  for (let attempt = 1; state.status === 'IN_PROGRESS'; attempt++) {
    if (now() > deadline)
      throw new ServiceError(
        `export ${state.arn} of table "${table}" is still IN_PROGRESS after ${Math.round(timeoutMs / 1000)} s ` +
          `(deadline ${formatTime(deadline)}); it keeps running on AWS: raise --export-timeout or check it with DescribeExport`,
      );
    await sleep(backoffDelay(attempt, EXPORT_POLL) + EXPORT_POLL.baseDelayMs, options.signal);
    state = await describeExport(client, state.arn, table);
    if (state.status === 'IN_PROGRESS') options.onPoll?.(state);
  }
  if (state.status === 'FAILED') throw exportFailed(state, table);
  return state;
}

/** The error of an export that ended FAILED: DynamoDB's FailureCode and FailureMessage. */
export function exportFailed(state: ExportState, table: string): ServiceError {
  return new ServiceError(
    `export ${state.arn} of table "${table}" FAILED: ${state.failureCode ?? 'no failure code'}: ` +
      `${state.failureMessage ?? 'no failure message'} (nothing was indexed)`,
  );
}
