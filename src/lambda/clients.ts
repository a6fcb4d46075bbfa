/**
 * Clients the Lambda handlers write with, built once per cold start from their config: static
 * credentials when given, else session credentials from an assumed role (cross-account replicas),
 * else the function's own role through the SDK's default chain.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { ServiceLocation } from '../core/location.js';
import { NetworkTimeoutError } from '../core/errors.js';
import { isNetworkTimeout, networkClientConfig, timeoutDetail } from '../core/network.js';
import { createDynamoClient, type ClientCredentials } from '../dynamodb/client.js';
import type { ReplicaConfig, StaticCredentials } from './config.js';

/** Renew session credentials this long before they expire. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
const SESSION_SECONDS = 3600;

/**
 * A credentials provider that assumes `roleArn` with STS (using `base` credentials, or the default
 * chain) and renews the session shortly before it expires.
 */
export function assumeRoleCredentials(
  roleArn: string,
  options: { region: string; base?: StaticCredentials; sessionName?: string },
): ClientCredentials {
  const sts = new STSClient({
    ...networkClientConfig(),
    region: options.region,
    ...(options.base ? { credentials: options.base } : {}),
  });
  let current:
    { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date } | undefined;
  let pending: Promise<NonNullable<typeof current>> | undefined;
  const renew = async (): Promise<NonNullable<typeof current>> => {
    const out = await sts
      .send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: options.sessionName ?? 'dynamodb-replicator',
          DurationSeconds: SESSION_SECONDS,
        }),
      )
      .catch((error: unknown) => {
        if (!isNetworkTimeout(error)) throw error;
        throw new NetworkTimeoutError(
          `STS AssumeRole ${roleArn} in region ${options.region} ${timeoutDetail(error)}`,
          { cause: error },
        );
      });
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new Error(`STS AssumeRole ${roleArn} returned no credentials`);
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
    };
  };
  return async () => {
    if (current && current.expiration.getTime() - Date.now() > REFRESH_MARGIN_MS) return current;
    pending ??= renew().finally(() => (pending = undefined));
    current = await pending;
    return current;
  };
}

export function replicaCredentials(
  replica: ReplicaConfig,
  fallbackRegion: string,
): ClientCredentials | undefined {
  if (replica.roleArn) {
    const region = replica.location.kind === 'aws' ? replica.location.region : fallbackRegion;
    return assumeRoleCredentials(replica.roleArn, {
      region,
      ...(replica.credentials ? { base: replica.credentials } : {}),
    });
  }
  return replica.credentials;
}

export function replicaClient(replica: ReplicaConfig, fallbackRegion: string): DynamoDBClient {
  const credentials = replicaCredentials(replica, fallbackRegion);
  return createDynamoClient(replica.location, credentials ? { credentials } : {});
}

export function serviceClient(location: ServiceLocation): DynamoDBClient {
  return createDynamoClient(location);
}
