/**
 * Clients the Lambda handlers write with, built once per cold start from their config: static
 * credentials when given, else session credentials from an assumed role (cross-account replicas,
 * with the replica's ExternalId), else the function's own role through the SDK's default chain.
 * With a role, the static credentials (if any) are who assumes it; the SDK's provider renews the
 * session REFRESH_MARGIN_MS before it expires.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ServiceLocation } from '../core/location.js';
import { createDynamoClient } from '../dynamodb/client.js';
import type { ReplicaConfig } from './config.js';

export { REFRESH_MARGIN_MS } from '../dynamodb/aws-identity.js';

/** The replica's location with its role (if any) as the location's identity. */
export function replicaLocation(replica: ReplicaConfig, fallbackRegion: string): ServiceLocation {
  const location =
    replica.location.kind === 'aws' && replica.location.region === undefined
      ? { ...replica.location, region: fallbackRegion }
      : replica.location;
  if (!replica.roleArn) return location;
  const role = {
    arn: replica.roleArn,
    ...(replica.externalId !== undefined ? { externalId: replica.externalId } : {}),
  };
  return { ...location, identity: { role } };
}

export function replicaClient(replica: ReplicaConfig, fallbackRegion: string): DynamoDBClient {
  return createDynamoClient(
    replicaLocation(replica, fallbackRegion),
    replica.credentials ? { credentials: replica.credentials } : {},
  );
}

export function serviceClient(location: ServiceLocation): DynamoDBClient {
  return createDynamoClient(location);
}
