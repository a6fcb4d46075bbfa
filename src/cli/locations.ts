import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  formatServiceLocation,
  formatTableLocation,
  parseServiceLocation,
  parseTableLocation,
  type ServiceLocation,
  type TableLocation,
} from '../core/location.js';
import { parseKeyArgument } from '../core/key-input.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { batchGetAll } from '../dynamodb/batch-get.js';
import { createDynamoClient, type ClientOptions } from '../dynamodb/client.js';
import { describeTable } from '../dynamodb/tables.js';
import type { CliIO } from './command.js';
import { networkFromEnv } from './network.js';

export interface OpenTable {
  readonly location: TableLocation;
  readonly table: string;
  /** The location as the user can write it, for messages. */
  readonly label: string;
  readonly client: DynamoDBClient;
}

/**
 * Client options from the command's environment: the network deadlines (DYNAMODB_REPLICATOR_*_TIMEOUT,
 * AWS_MAX_ATTEMPTS). Every client a command creates takes them from here.
 */
export function cliClientOptions(io: CliIO): ClientOptions {
  return { network: networkFromEnv(io.env) };
}

/** Parses a table location argument (UsageError naming the accepted forms) and creates its client. */
export function openTable(text: string, io: CliIO): OpenTable {
  const location = parseTableLocation(text);
  return {
    location,
    table: location.table,
    label: formatTableLocation(location),
    client: createDynamoClient(location, cliClientOptions(io)),
  };
}

/** Parses a region or endpoint argument (none: the default region) and creates its client. */
export function openService(text: string | undefined, io: CliIO): { label: string; client: DynamoDBClient } {
  const location: ServiceLocation = text === undefined ? { kind: 'aws' } : parseServiceLocation(text);
  return {
    label: formatServiceLocation(location),
    client: createDynamoClient(location, cliClientOptions(io)),
  };
}

/** Runs `fn` and always releases the clients' sockets, so in-process callers do not hang. */
export async function closing<T>(clients: readonly { destroy(): void }[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    for (const c of clients) c.destroy();
  }
}

/**
 * Parses a key argument against the table's key schema (UsageError when it does not fit) and reads
 * that item with a strongly consistent read; `item` is undefined when the table has none.
 */
export async function readItemByKeyArgument(
  source: OpenTable,
  keyText: string,
): Promise<{ keySchema: KeySchema; key: Key; item: Item | undefined }> {
  const { keySchema } = await describeTable(source.client, source.table);
  const key = parseKeyArgument(keyText, keySchema);
  const read = await batchGetAll(source.client, { [source.table]: { keys: [key], consistentRead: true } });
  return { keySchema, key, item: read.items[source.table]?.[0] };
}
