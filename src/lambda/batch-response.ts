/**
 * Lambda's partial batch response for stream event sources (FunctionResponseTypes:
 * ReportBatchItemFailures). For a stream, Lambda takes the lowest reported sequence number as the
 * checkpoint: that record and every later one are delivered again, earlier ones count as done. So
 * the handler reports one identifier — the lowest sequence number not durably applied — and never an
 * empty one (which Lambda would treat as a failure of the whole batch anyway, hiding the cause).
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../core/errors.js';
import type { Logger } from './log.js';

export interface BatchItemFailure {
  readonly itemIdentifier: string;
}

export interface StreamBatchResponse {
  readonly batchItemFailures: BatchItemFailure[];
}

export function batchResponse(lowestFailedSequenceNumber: string | undefined): StreamBatchResponse {
  if (lowestFailedSequenceNumber === undefined) return { batchItemFailures: [] };
  if (lowestFailedSequenceNumber === '') throw new TypeError('batchResponse: empty sequence number');
  return { batchItemFailures: [{ itemIdentifier: lowestFailedSequenceNumber }] };
}

/** No record of the batch could be applied: the handler throws so Lambda retries the whole batch. */
export class BatchFailedError extends ServiceError {}

/** How both handlers log a rejected record: its key, sequence number and what DynamoDB would refuse. */
export function rejectedRecordFields(r: {
  readonly key?: string;
  readonly sequenceNumber?: string;
  readonly index?: number;
  readonly error: string;
}): { key: string; sequenceNumber: string; error: string } {
  return {
    key: r.key ?? '(unreadable)',
    sequenceNumber: r.sequenceNumber ?? `(record ${r.index})`,
    error: r.error,
  };
}

/**
 * A stream handler around `handle`: each invocation logs under its own correlation id (Lambda's
 * request id, else a new one); a batch refused for any reason other than BatchFailedError (whose
 * details `handle` has logged) is logged as "batch refused" before it is thrown.
 */
export function streamBatchHandler(
  baseLog: Logger,
  handle: (event: unknown, log: Logger) => Promise<StreamBatchResponse>,
): (event: unknown, context?: { readonly awsRequestId?: string }) => Promise<StreamBatchResponse> {
  return async (event, context) => {
    const log = baseLog.child({ correlationId: context?.awsRequestId ?? randomUUID() });
    try {
      return await handle(event, log);
    } catch (error) {
      if (!(error instanceof BatchFailedError)) log.error('batch refused', { error });
      throw error;
    }
  };
}

/** What a handler's apply left undone: keys that failed, each from its first sequence number. */
export interface BatchOutcome {
  readonly applied: number;
  readonly failed: readonly {
    readonly key: string;
    readonly firstSequenceNumber: string;
    readonly error: string;
  }[];
  readonly lowestFailedSequenceNumber?: string | undefined;
}

/**
 * Logs a batch's outcome and answers Lambda: nothing failed -> success; some keys failed -> a
 * partial batch response from the lowest failed record (Lambda retries from there); nothing could be
 * applied -> BatchFailedError (Lambda retries the whole batch).
 */
export function respondToBatch(
  log: Logger,
  result: BatchOutcome,
  fields: Record<string, unknown>,
): StreamBatchResponse {
  if (result.failed.length === 0) {
    log.info('batch applied', fields);
    return batchResponse(undefined);
  }
  log.error('keys failed', {
    ...fields,
    lowestFailedSequenceNumber: result.lowestFailedSequenceNumber,
    failed: result.failed.map((f) => ({
      key: f.key,
      firstSequenceNumber: f.firstSequenceNumber,
      error: f.error,
    })),
  });
  if (result.applied === 0) {
    throw new BatchFailedError(
      `no record of the batch could be applied: ${result.failed.length} key(s) failed, e.g. ${result.failed[0]?.key}: ${result.failed[0]?.error}`,
    );
  }
  return batchResponse(result.lowestFailedSequenceNumber);
}
