/**
 * Deadlines for every network call, in one place. Every AWS SDK client the toolkit creates (DynamoDB,
 * DynamoDB Streams, S3 and lib-storage uploads through it, STS, and the STS/SSO clients inside the
 * credential chain) takes its connection timeout, idle timeout, request timeout and attempt count
 * from `networkClientConfig`, so a silent peer becomes an error instead of a hang.
 *
 * No AWS SDK import: the handler settings are plain values in the shape the SDK's Node.js request
 * handler accepts as `requestHandler`.
 */
import { SDK_REQUEST_ATTEMPTS } from './retry-policies.js';

export interface NetworkOptions {
  /** Time to establish the TCP connection. Default 5 s. */
  readonly connectTimeoutMs: number;
  /**
   * Time the peer may stay silent while a request is being sent or its answer awaited: no byte
   * accepted or received for this long fails the attempt. Large S3 uploads and downloads are not cut
   * short, only stalled ones. Default 15 s.
   */
  readonly idleTimeoutMs: number;
  /**
   * Whole-request deadline for DynamoDB, DynamoDB Streams and STS calls (small, bounded requests), so
   * a peer that trickles bytes cannot hold a call forever. Not applied to S3, whose bodies can be
   * gigabytes. Default 60 s.
   */
  readonly requestTimeoutMs: number;
  /** Attempts per request by the SDK's retry strategy (throttling, 5xx, network, timeouts). Default SDK_REQUEST_ATTEMPTS (core/retry-policies.ts). */
  readonly maxAttempts: number;
}

export const DEFAULT_NETWORK: NetworkOptions = {
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 15_000,
  requestTimeoutMs: 60_000,
  maxAttempts: SDK_REQUEST_ATTEMPTS,
};

/** The defaults with `overrides` applied. */
export function resolveNetwork(overrides: Partial<NetworkOptions> = {}): NetworkOptions {
  return { ...DEFAULT_NETWORK, ...overrides };
}

/** Settings of the SDK's Node.js request handler (NodeHttpHandlerOptions). */
export interface HandlerTimeouts {
  connectionTimeout: number;
  socketTimeout?: number;
  requestTimeout?: number;
  throwOnRequestTimeout?: boolean;
}

/**
 * Client settings for the SDK: request handler timeouts and the retry budget.
 * - `api` (DynamoDB, Streams, STS): connection, idle and whole-request deadlines;
 * - `bulk` (S3): connection and idle deadlines only, as bodies can be large;
 * - `download` (S3 object reads): connection deadline and the idle deadline for the answer's
 *   headers only; the body is watched by its reader (a slow consumer pauses the socket on purpose).
 */
export function networkClientConfig(
  overrides: Partial<NetworkOptions> = {},
  kind: 'api' | 'bulk' | 'download' = 'api',
): { maxAttempts: number; retryMode: 'standard'; requestHandler: HandlerTimeouts } {
  const n = resolveNetwork(overrides);
  const connectionTimeout = n.connectTimeoutMs;
  const requestHandler: HandlerTimeouts =
    kind === 'api'
      ? {
          connectionTimeout,
          socketTimeout: n.idleTimeoutMs,
          requestTimeout: n.requestTimeoutMs,
          throwOnRequestTimeout: true,
        }
      : kind === 'bulk'
        ? { connectionTimeout, socketTimeout: n.idleTimeoutMs }
        : { connectionTimeout, requestTimeout: n.idleTimeoutMs, throwOnRequestTimeout: true };
  return { maxAttempts: n.maxAttempts, retryMode: 'standard', requestHandler };
}

/**
 * Whether an SDK failure was one of the deadlines above (the SDK names them all TimeoutError; it
 * also gives that name to ECONNRESET and EPIPE, which are resets, not silence).
 */
export function isNetworkTimeout(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return error.name === 'TimeoutError' && code !== 'ECONNRESET' && code !== 'EPIPE';
}

/**
 * What a timeout error says, for the end of a message: which deadline was passed and on how many
 * attempts, e.g. "timed out after 6 attempts (the request socket timed out after 15000 ms of
 * inactivity)".
 */
export function timeoutDetail(error: unknown): string {
  const attempts = (error as { $metadata?: { attempts?: unknown } } | undefined)?.$metadata?.attempts;
  const tries = typeof attempts === 'number' && attempts > 1 ? ` after ${attempts} attempts` : '';
  const message = error instanceof Error ? error.message : String(error);
  const reason = (message.split('\n')[0] ?? '')
    .replace(/^@smithy\/node-http-handler\s*-\s*(\[ERROR\]\s*)?/, '')
    .replace(/\s*\((configured|service default)[^)]*\)/, '')
    .replace(/\.\s*$/, '');
  return `timed out${tries} (${reason})`;
}

/** The endpoint as a URL; `host:port` gets `http://`, as local servers rarely speak TLS. */
export function endpointUrl(endpoint: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
}

/**
 * Where an endpoint URL points, for messages: scheme, host and port only — never the user name,
 * password, path or query an endpoint URL may carry. Unparseable text gives "an endpoint".
 */
export function endpointOrigin(endpoint: string): string {
  try {
    const url = new URL(endpointUrl(endpoint));
    return `${url.protocol}//${url.host}`;
  } catch {
    return 'an endpoint';
  }
}
