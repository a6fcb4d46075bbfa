import { redactUrls } from './redact.js';

/**
 * One base class for every error the toolkit raises on purpose. `exitCode` is what a CLI returns
 * for it; `userError` marks mistakes in the caller's input, printed without a stack trace. Credentials
 * inside URLs are redacted from the message (and so from the stack).
 */
export class ReplicatorError extends Error {
  readonly exitCode: number = 2;
  readonly userError: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(redactUrls(message), options);
    this.name = new.target.name;
  }
}

/** The caller asked for something invalid: bad arguments, locations, keys, config. Changes nothing. */
export class UsageError extends ReplicatorError {
  override readonly userError = true;
}

/** Invalid configuration read from environment variables or options objects; names the variable. */
export class ConfigError extends UsageError {}

/** A table, stream, bucket or backup that should exist does not. */
export class NotFoundError extends UsageError {}

/** Two tables whose key schemas differ were asked to be compared or replicated. */
export class KeySchemaMismatchError extends UsageError {}

/**
 * A change log, or one of its parts, belongs to another table or key schema than the one at hand
 * (a writer pointed at the wrong log, or a foreign snapshot or segment inside a log).
 */
export class LogIdentityError extends UsageError {}

/** Input data that cannot be trusted: malformed events, corrupt or truncated backups. */
export class InvalidDataError extends UsageError {}

/**
 * An item DynamoDB would refuse whatever the moment: nested too deep, an empty attribute name, an
 * empty or too long key value, over 400 KB (core/item-limits.ts). `keyJson` is its canonical key, or
 * '' when the key itself is unreadable.
 */
export class ItemLimitError extends UsageError {
  constructor(
    message: string,
    readonly keyJson: string,
  ) {
    super(message);
  }
}

/** An item exceeds DynamoDB's 400 KB limit. */
export class ItemTooLargeError extends ItemLimitError {
  constructor(
    message: string,
    keyJson: string,
    readonly size: number,
  ) {
    super(message, keyJson);
  }
}

/**
 * Writes or reads that were still unprocessed after the retry budget. Lists every key that was not
 * written (or read) so nothing is lost silently.
 */
export class UnprocessedError extends ReplicatorError {
  constructor(
    message: string,
    /** Canonical key JSON of each item not processed, grouped by table name. */
    readonly unprocessed: ReadonlyArray<{ readonly table: string; readonly keys: readonly string[] }>,
  ) {
    super(message);
  }
}

/** A failure talking to AWS or a compatible service that is not the caller's fault. */
export class ServiceError extends ReplicatorError {}

/**
 * A peer that stayed silent past a network deadline (connection, idle or request timeout) on every
 * attempt. The message names the endpoint and the operation.
 */
export class NetworkTimeoutError extends ServiceError {}

/** What one member of a regional client answered when it could not serve a request. */
export interface MemberFailure {
  readonly member: string;
  readonly message: string;
}

/**
 * A regional client could not serve a request: every member failed a read, or the write member is
 * unavailable or failed a write. `sent` says whether the request may have reached a member (a write
 * that was sent may have been applied); `failures` lists each member tried, in order.
 */
export class MemberUnavailableError extends ServiceError {
  constructor(
    message: string,
    readonly sent: boolean,
    readonly failures: readonly MemberFailure[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
