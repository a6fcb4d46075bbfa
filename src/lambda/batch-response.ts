/**
 * Lambda's partial batch response for stream event sources (FunctionResponseTypes:
 * ReportBatchItemFailures). For a stream, Lambda takes the lowest reported sequence number as the
 * checkpoint: that record and every later one are delivered again, earlier ones count as done. So
 * the handler reports one identifier — the lowest sequence number not durably applied — and never an
 * empty one (which Lambda would treat as a failure of the whole batch anyway, hiding the cause).
 */
import { ServiceError } from '../core/errors.js';

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
