/**
 * Turns AWS SDK errors into the toolkit's error classes at the adapter boundary, so engines and
 * shells only ever see ReplicatorError subclasses (with the SDK error kept as `cause`).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  ConfigError,
  InvalidDataError,
  NetworkTimeoutError,
  NotFoundError,
  ReplicatorError,
  ServiceError,
  UsageError,
} from '../core/errors.js';
import { isNetworkTimeout, timeoutDetail } from '../core/network.js';
import { clientLocation } from './client.js';

export interface ErrorContext {
  /** The service named in messages; default "DynamoDB". */
  readonly service?: string;
  /** The action, e.g. "BatchWriteItem". */
  readonly action: string;
  /** Table (or stream) the request was about, named in the message. */
  readonly table?: string;
  /** Where the table lives, e.g. "region us-east-1" or "http://localhost:8000 (region us-east-1)". */
  readonly location?: string;
}

/** SDK error names that mean "slow down": the SDK already retried them; callers may back off further. */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

/** Export requests DynamoDB refuses for what was asked: a time outside the PITR window, a reused token. */
const EXPORT_REFUSALS = new Set(['InvalidExportTimeException', 'ExportConflictException']);

/** Errors that mean the caller has no usable credentials or the wrong ones. */
const CREDENTIALS = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
]);

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isThrottlingError(error: unknown): boolean {
  return THROTTLING.has(errorName(error) ?? '');
}

/**
 * True for a conditional write that DynamoDB refused (ConditionalCheckFailedException), raw or as
 * translated by translateSdkError (then it is the `cause`).
 */
export function isConditionalCheckFailed(error: unknown): boolean {
  const raw = error instanceof ReplicatorError ? error.cause : error;
  return errorName(raw) === 'ConditionalCheckFailedException';
}

export function isAbortError(error: unknown): boolean {
  return errorName(error) === 'AbortError';
}

/** ` on table "t" at L`, ` on table "t"`, ` at L` or nothing: what follows the action's name. */
function where(context: ErrorContext): string {
  const table = context.table ? ` on table "${context.table}"` : '';
  const location = context.location ? ` at ${context.location}` : '';
  return `${table}${location}`;
}

/** A message to embed in a sentence: without its own final period. */
function clause(message: string): string {
  return message.replace(/\.+$/, '');
}

/**
 * The toolkit error for an SDK failure. ReplicatorErrors and aborts pass through unchanged.
 * - ResourceNotFoundException -> NotFoundError naming the table
 * - ResourceInUseException -> UsageError (the table already exists or is being created/deleted)
 * - PointInTimeRecoveryUnavailableException -> UsageError saying how to enable PITR (native exports)
 * - InvalidExportTimeException, ExportConflictException -> UsageError; ExportNotFoundException -> NotFoundError
 * - ValidationException -> InvalidDataError with DynamoDB's message
 * - missing or rejected credentials -> ConfigError saying how to provide them
 * - a connection, idle or request timeout on every attempt -> NetworkTimeoutError
 * - anything else -> ServiceError
 */
export function translateSdkError(error: unknown, context: ErrorContext): Error {
  if (error instanceof ReplicatorError || isAbortError(error)) return error as Error;
  const name = errorName(error) ?? 'Error';
  const message = clause(errorMessage(error));
  const service = context.service ?? 'DynamoDB';
  // `DynamoDB Scan on table "t" at L`: the request, as the messages below name it.
  const request = `${service} ${context.action}${where(context)}`;
  if (name === 'ResourceNotFoundException') {
    const what = context.table ? `Table "${context.table}"` : 'The requested resource';
    const location = context.location ? ` at ${context.location}` : '';
    return new NotFoundError(`${what} was not found${location} (${context.action}: ${message})`, {
      cause: error,
    });
  }
  if (name === 'ResourceInUseException') {
    const what = context.table ? `Table "${context.table}"` : 'The resource';
    const location = context.location ? ` at ${context.location}` : '';
    return new UsageError(
      `${what}${location} already exists or is being changed (${context.action}: ${message})`,
      { cause: error },
    );
  }
  if (name === 'PointInTimeRecoveryUnavailableException') {
    const table = context.table ?? 'the table';
    const location = context.location ? ` at ${context.location}` : '';
    return new UsageError(
      `${context.action} needs point-in-time recovery (PITR), which is not enabled on table "${table}"${location}: ` +
        `enable it with \`aws dynamodb update-continuous-backups --table-name ${table} ` +
        '--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`, or back up without --native (a scan)',
      { cause: error },
    );
  }
  if (EXPORT_REFUSALS.has(name))
    return new UsageError(`${service} refused ${context.action}${where(context)}: ${name}: ${message}`, {
      cause: error,
    });
  if (name === 'ExportNotFoundException')
    return new NotFoundError(`${context.action}${where(context)}: the export was not found (${message})`, {
      cause: error,
    });
  if (name === 'ValidationException' || name === 'SerializationException') {
    return new InvalidDataError(`${service} rejected ${context.action}${where(context)}: ${message}`, {
      cause: error,
    });
  }
  if (CREDENTIALS.has(name)) {
    return new ConfigError(
      `No usable AWS credentials for ${context.action}${where(context)}: ${message}. ` +
        'Provide credentials through the AWS SDK default chain (AWS_ACCESS_KEY_ID and ' +
        'AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, SSO, or an instance/task role).',
      { cause: error },
    );
  }
  if (isNetworkTimeout(error))
    return new NetworkTimeoutError(`${request} ${timeoutDetail(error)}`, { cause: error });
  return new ServiceError(`${request} failed: ${name}: ${message}`, { cause: error });
}

/** Runs `fn` and rethrows any failure translated with `context`. */
export async function withSdkErrors<T>(context: ErrorContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateSdkError(error, context);
  }
}

/**
 * Runs one SDK call against `client`; a failure is translated with the client's location in the
 * message (looked up only when something failed).
 */
export async function callDynamo<T>(
  client: DynamoDBClient | DynamoDBStreamsClient,
  context: Omit<ErrorContext, 'location'>,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateSdkError(error, { ...context, location: await clientLocation(client) });
  }
}
