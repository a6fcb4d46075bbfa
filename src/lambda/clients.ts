/**
 * Clients the Lambda handlers write with, built once per cold start from their config: static
 * credentials when given, else session credentials from an assumed role (cross-account replicas,
 * dynamodb/assume-role.ts), else the function's own role through the SDK's default chain.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { assumeRoleCredentials } from '../dynamodb/assume-role.js';
import type { ServiceLocation } from '../core/location.js';
import { createDynamoClient, type ClientCredentials } from '../dynamodb/client.js';
import type { ReplicaConfig } from './config.js';

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
