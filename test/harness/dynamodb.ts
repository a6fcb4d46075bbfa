import { after } from 'node:test';
import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
  type AttributeDefinition,
  type KeySchemaElement,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  LOCAL_CREDENTIALS,
  startDynamoDbLocal,
  type DynamoDbLocal,
} from '../../src/embedded/dynamodb-local.js';
import { keepProtoAttributes } from '../../src/dynamodb/attribute-names.js';

/**
 * One DynamoDB Local per test process unless the test runner already started a shared one
 * (scripts/run-tests.mjs exports DDB_LOCAL_ENDPOINT). Tests isolate themselves with unique table names.
 */
let shared: Promise<string> | undefined;

export async function dynamoEndpoint(): Promise<string> {
  const fromEnv = process.env.DDB_LOCAL_ENDPOINT;
  if (fromEnv) return fromEnv;
  shared ??= startDynamoDbLocal().then((server) => {
    after(() => server.stop());
    return server.endpoint;
  });
  return shared;
}

/** A private DynamoDB Local for tests that kill or stop the server. Stopped after the test file. */
export async function privateDynamo(): Promise<DynamoDbLocal> {
  const server = await startDynamoDbLocal();
  after(() => server.stop());
  return server;
}

export function dynamoClient(endpoint: string, region = 'us-east-1'): DynamoDBClient {
  return keepProtoAttributes(
    new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 }),
  );
}

export function streamsClient(endpoint: string, region = 'us-east-1'): DynamoDBStreamsClient {
  return keepProtoAttributes(new DynamoDBStreamsClient({ endpoint, region, credentials: LOCAL_CREDENTIALS }));
}

export function uniqueName(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TestTableSpec {
  name?: string;
  hash?: { name: string; type: 'S' | 'N' | 'B' };
  range?: { name: string; type: 'S' | 'N' | 'B' };
  stream?: StreamViewType;
}

/** Creates a PAY_PER_REQUEST table (hash `id` S by default) and waits until it is active. */
export async function createTestTable(client: DynamoDBClient, spec: TestTableSpec = {}): Promise<string> {
  const name = spec.name ?? uniqueName();
  const hash = spec.hash ?? { name: 'id', type: 'S' as const };
  const attrs: AttributeDefinition[] = [{ AttributeName: hash.name, AttributeType: hash.type }];
  const keys: KeySchemaElement[] = [{ AttributeName: hash.name, KeyType: 'HASH' }];
  if (spec.range) {
    attrs.push({ AttributeName: spec.range.name, AttributeType: spec.range.type });
    keys.push({ AttributeName: spec.range.name, KeyType: 'RANGE' });
  }
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: attrs,
      KeySchema: keys,
      BillingMode: 'PAY_PER_REQUEST',
      ...(spec.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream } } : {}),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: name });
  return name;
}
