/**
 * Creating DynamoDB and DynamoDB Streams clients from a location.
 *
 * Credentials:
 * - AWS region locations use the AWS SDK's default provider chain (environment, shared
 *   config/credentials files and AWS_PROFILE, SSO, web identity, container or instance role).
 * - Endpoint locations (DynamoDB Local or a compatible server) use the same chain, but when it finds
 *   nothing at all they fall back to LOCAL_CREDENTIALS, the fixed pair every local component uses
 *   (DynamoDB Local keeps one database per access key + region, so they must all agree).
 * - A location's own identity (`?profile=`, `?role=`) replaces the chain for that location; a
 *   role is assumed with the base credentials given in `options.credentials` when the location has
 *   no profile (see aws-identity.ts).
 * - Otherwise `options.credentials` overrides both.
 *
 * Region: an AWS location without one resolves it at the first request like the AWS CLI
 * (AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
 *
 * Retries and deadlines: the SDK's own retry strategy (standard mode) retries throttling, transient
 * errors and timeouts up to `maxAttempts` times; every attempt has the connection, idle and request
 * timeouts of `core/network.ts`. UnprocessedItems/UnprocessedKeys are not errors to the SDK;
 * batch-write and batch-get retry those themselves.
 *
 * Both clients keep the attribute name `__proto__` on reads (attribute-names.ts).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import {
  formatServiceLocation,
  formatTableLocation,
  type ServiceLocation,
  type TableLocation,
} from '../core/location.js';
import { endpointUrl, networkClientConfig, type NetworkOptions } from '../core/network.js';
import { keepProtoAttributes } from './attribute-names.js';
import { identityCredentials, identityText, regionProvider, type RegionInput } from './aws-identity.js';

/**
 * The fixed pair every local component (DynamoDB Local, the embedded demo, the tests) uses when
 * nothing else is configured: DynamoDB Local keeps one database per access key and region.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Credentials or a credentials provider, as the SDK clients accept them. */
export type ClientCredentials = NonNullable<DynamoDBClientConfig['credentials']>;

export interface ClientOptions {
  /**
   * Explicit credentials; default: the SDK chain (with the local fallback for endpoints). With a
   * role location, these are who assumes the role.
   */
  readonly credentials?: ClientCredentials;
  /** Attempts per request by the SDK's retry strategy (throttling, 5xx, network). Default 6. */
  readonly maxAttempts?: number;
  /** Connection, idle and request timeouts (and attempts); defaults in DEFAULT_NETWORK. */
  readonly network?: Partial<NetworkOptions>;
}

/** Region used for endpoint locations that name none: DynamoDB Local only uses it to pick a database. */
export const DEFAULT_ENDPOINT_REGION = 'us-east-1';

export type AnyLocation = TableLocation | ServiceLocation;

/**
 * The SDK default chain, but LOCAL_CREDENTIALS when the chain finds nothing configured. Errors other
 * than "nothing found" (e.g. a broken profile) are not hidden.
 */
function endpointCredentialProvider(network: ReturnType<typeof networkClientConfig>): ClientCredentials {
  // The chain's own STS/SSO clients get the same deadlines.
  const chain = defaultProvider({ clientConfig: network });
  return async () => {
    try {
      return await chain();
    } catch (error) {
      if (error instanceof Error && error.name === 'CredentialsProviderError') return LOCAL_CREDENTIALS;
      throw error;
    }
  };
}

/** How a location reads in messages about its client: `location "users?profile=prod"`. */
function locationLabel(loc: AnyLocation): string {
  if ('table' in loc) return `location "${formatTableLocation(loc)}"`;
  if (loc.kind === 'aws' && loc.region === undefined && !loc.identity) return 'the default region';
  return `location "${formatServiceLocation(loc)}"`;
}

/** The configuration every client of a location gets (region, credentials, endpoint, deadlines). */
export function clientConfig(loc: AnyLocation, options: ClientOptions): DynamoDBClientConfig {
  const network = networkClientConfig({
    ...options.network,
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
  const region: RegionInput =
    loc.region ??
    (loc.kind === 'aws'
      ? regionProvider(loc.identity?.profile, locationLabel(loc))
      : DEFAULT_ENDPOINT_REGION);
  const base =
    options.credentials ?? (loc.kind === 'endpoint' ? endpointCredentialProvider(network) : undefined);
  const credentials =
    identityCredentials(loc.identity, {
      label: locationLabel(loc),
      region,
      network,
      ...(base ? { base } : {}),
    }) ?? base;
  return {
    ...(loc.kind === 'endpoint' ? { endpoint: endpointUrl(loc.endpoint) } : {}),
    region,
    ...network,
    ...(credentials ? { credentials } : {}),
  };
}

/** The identity each client was created with, for clientLocation's messages. */
const identities = new WeakMap<object, string>();

/** Records the identity a client was created with (for clientLocation). */
export function remember<T extends object>(client: T, loc: AnyLocation): T {
  const who = identityText(loc.identity);
  if (who) identities.set(client, who);
  return client;
}

/**
 * A DynamoDB client for a location (a region or an endpoint), with the network deadlines of
 * `options.network` and credentials as described at the top of this file.
 *
 * @example
 * const users = parseTableLocation('us-east-1/users');
 * const client = createDynamoClient(users, { network: { requestTimeoutMs: 10_000 } });
 * const { keySchema } = await describeTable(client, users.table);
 */
export function createDynamoClient(loc: AnyLocation, options: ClientOptions = {}): DynamoDBClient {
  return remember(keepProtoAttributes(new DynamoDBClient(clientConfig(loc, options))), loc);
}

/**
 * Where a client sends requests, for error messages: "region eu-west-1", "region eu-west-1 (profile
 * prod)" or "http://127.0.0.1:8000 (region us-east-1, profile prod)". Never throws.
 */
export async function clientLocation(client: DynamoDBClient | DynamoDBStreamsClient): Promise<string> {
  try {
    const who = identities.get(client);
    const region = await client.config.region();
    const endpoint = client.config.endpoint ? await client.config.endpoint() : undefined;
    if (!endpoint) return `region ${region}${who ? ` (${who})` : ''}`;
    const port = endpoint.port ? `:${endpoint.port}` : '';
    return `${endpoint.protocol}//${endpoint.hostname}${port} (region ${region}${who ? `, ${who}` : ''})`;
  } catch {
    return 'an unknown location';
  }
}
