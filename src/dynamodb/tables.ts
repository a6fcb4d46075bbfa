/**
 * Table helpers: describe, key schema, create a table from another table's description, wait until
 * active, compare key schemas.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  type CreateTableInput,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type LocalSecondaryIndex,
  type ProvisionedThroughputDescription,
  type SSESpecification,
  type StreamViewType,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep } from '../core/backoff.js';
import { TABLE_POLL } from '../core/retry-policies.js';
import { InvalidDataError, KeySchemaMismatchError, ServiceError } from '../core/errors.js';
import type { KeySchema, KeyType } from '../core/types.js';
import { clientLocation } from './client.js';
import { callDynamo } from './sdk-errors.js';

export interface TableInfo {
  readonly name: string;
  readonly keySchema: KeySchema;
  readonly description: TableDescription;
  /** The latest stream's ARN, only when a stream is enabled. */
  readonly streamArn?: string;
  readonly streamViewType?: StreamViewType;
  /** DynamoDB's approximate item count (updated about every six hours on AWS). */
  readonly itemCount?: number;
}

/** DescribeTable; NotFoundError naming the table and where it was looked for. */
export async function describeTable(client: DynamoDBClient, table: string): Promise<TableInfo> {
  const response = await callDynamo(client, { action: 'DescribeTable', table }, () =>
    client.send(new DescribeTableCommand({ TableName: table })),
  );
  const description = response.Table;
  if (!description) throw new ServiceError(`DescribeTable returned no table for "${table}"`);
  const stream = description.StreamSpecification;
  const enabled = stream?.StreamEnabled === true && description.LatestStreamArn !== undefined;
  return {
    name: table,
    keySchema: keySchemaFromDescription(description),
    description,
    ...(enabled ? { streamArn: description.LatestStreamArn } : {}),
    ...(enabled && stream?.StreamViewType ? { streamViewType: stream.StreamViewType } : {}),
    ...(description.ItemCount !== undefined ? { itemCount: description.ItemCount } : {}),
  };
}

/** Every table name at the client's location, following pagination. */
export async function listTables(client: DynamoDBClient): Promise<string[]> {
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await callDynamo(client, { action: 'ListTables' }, () =>
      client.send(new ListTablesCommand({ ExclusiveStartTableName: start })),
    );
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start);
  return names;
}

function isKeyType(type: string | undefined): type is KeyType {
  return type === 'S' || type === 'N' || type === 'B';
}

/** The hash/range key names and types of a table description; InvalidDataError when incomplete. */
export function keySchemaFromDescription(d: TableDescription): KeySchema {
  const label = d.TableName ? `table "${d.TableName}"` : 'table description';
  const attribute = (role: 'HASH' | 'RANGE') => {
    const element = d.KeySchema?.find((k) => k.KeyType === role);
    if (!element?.AttributeName) return undefined;
    const name = element.AttributeName;
    const type = d.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
    if (!isKeyType(type)) {
      throw new InvalidDataError(`${label}: key attribute "${name}" has no S, N or B attribute definition`);
    }
    return { name, type };
  };
  const hash = attribute('HASH');
  if (!hash) throw new InvalidDataError(`${label} has no HASH key in its KeySchema`);
  const range = attribute('RANGE');
  return range ? { hash, range } : { hash };
}

/** `hash id (S), range ts (N)` or `hash id (S), no range key`. */
export function describeKeySchema(schema: KeySchema): string {
  const hash = `hash ${schema.hash.name} (${schema.hash.type})`;
  return schema.range
    ? `${hash}, range ${schema.range.name} (${schema.range.type})`
    : `${hash}, no range key`;
}

export function sameKeySchema(a: KeySchema, b: KeySchema): boolean {
  return (
    a.hash.name === b.hash.name &&
    a.hash.type === b.hash.type &&
    a.range?.name === b.range?.name &&
    a.range?.type === b.range?.type
  );
}

/** KeySchemaMismatchError naming both sides when the schemas differ. */
export function assertSameKeySchema(a: KeySchema, b: KeySchema, labels: [string, string]): void {
  if (sameKeySchema(a, b)) return;
  throw new KeySchemaMismatchError(
    `Key schemas differ: ${labels[0]} has ${describeKeySchema(a)}; ${labels[1]} has ${describeKeySchema(b)}`,
  );
}

function billingMode(d: TableDescription): 'PROVISIONED' | 'PAY_PER_REQUEST' {
  const mode = d.BillingModeSummary?.BillingMode;
  if (mode === 'PROVISIONED' || mode === 'PAY_PER_REQUEST') return mode;
  // Old descriptions (and DynamoDB Local) may omit the summary: provisioned tables have units > 0.
  return (d.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0 ? 'PROVISIONED' : 'PAY_PER_REQUEST';
}

/** Only the settable part of a throughput description (drops NumberOfDecreasesToday, Last*DateTime). */
function throughput(p: ProvisionedThroughputDescription | undefined) {
  return {
    ReadCapacityUnits: Math.max(1, p?.ReadCapacityUnits ?? 1),
    WriteCapacityUnits: Math.max(1, p?.WriteCapacityUnits ?? 1),
  };
}

function regionOfArn(arn: string): string | undefined {
  return arn.split(':')[3] || undefined;
}

/**
 * Server-side encryption for the copy: a KMS key is kept only when it lives in the target region
 * (a key from another region cannot encrypt this table; the AWS managed key is used instead).
 * AWS-owned encryption (the default, reported as AES256 or no description) needs no specification.
 */
function sseSpecification(
  d: TableDescription,
  targetRegion: string | undefined,
): SSESpecification | undefined {
  const sse = d.SSEDescription;
  if (!sse || sse.SSEType !== 'KMS') return undefined;
  if (sse.Status !== 'ENABLED' && sse.Status !== 'ENABLING' && sse.Status !== 'UPDATING') return undefined;
  const arn = sse.KMSMasterKeyArn;
  const keep = arn !== undefined && targetRegion !== undefined && regionOfArn(arn) === targetRegion;
  return { Enabled: true, SSEType: 'KMS', ...(keep ? { KMSMasterKeyId: arn } : {}) };
}

/**
 * The CreateTable request that recreates a described table under `name`: read-only fields
 * (status, sizes, counts, ARNs, ids, dates, stream labels, throughput history, index status) are
 * dropped, BillingModeSummary becomes BillingMode, provisioned throughput is set only for
 * PROVISIONED tables, the stream specification and table class are kept. Warm throughput, tags,
 * resource policies and replicas are not copied.
 */
export function createTableInput(
  d: TableDescription,
  name?: string,
  targetRegion?: string,
): CreateTableInput {
  const tableName = name ?? d.TableName;
  if (!tableName) throw new InvalidDataError('table description has no TableName and no name was given');
  keySchemaFromDescription(d); // validates the key schema early, with a clear message
  const mode = billingMode(d);
  const provisioned = mode === 'PROVISIONED';
  const gsis: GlobalSecondaryIndex[] | undefined = d.GlobalSecondaryIndexes?.map((g) => ({
    IndexName: g.IndexName,
    KeySchema: g.KeySchema,
    Projection: g.Projection,
    ...(provisioned ? { ProvisionedThroughput: throughput(g.ProvisionedThroughput) } : {}),
    ...(!provisioned && g.OnDemandThroughput ? { OnDemandThroughput: g.OnDemandThroughput } : {}),
  }));
  const lsis: LocalSecondaryIndex[] | undefined = d.LocalSecondaryIndexes?.map((l) => ({
    IndexName: l.IndexName,
    KeySchema: l.KeySchema,
    Projection: l.Projection,
  }));
  const stream = d.StreamSpecification;
  const sse = sseSpecification(d, targetRegion);
  const tableClass = d.TableClassSummary?.TableClass;
  return {
    TableName: tableName,
    AttributeDefinitions: d.AttributeDefinitions,
    KeySchema: d.KeySchema,
    BillingMode: mode,
    ...(provisioned ? { ProvisionedThroughput: throughput(d.ProvisionedThroughput) } : {}),
    ...(!provisioned && d.OnDemandThroughput ? { OnDemandThroughput: d.OnDemandThroughput } : {}),
    ...(gsis?.length ? { GlobalSecondaryIndexes: gsis } : {}),
    ...(lsis?.length ? { LocalSecondaryIndexes: lsis } : {}),
    ...(stream?.StreamEnabled
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType } }
      : {}),
    ...(sse ? { SSESpecification: sse } : {}),
    // STANDARD is the default; only name a class when it differs, which DynamoDB Local also accepts.
    ...(tableClass && tableClass !== 'STANDARD' ? { TableClass: tableClass } : {}),
    ...(d.DeletionProtectionEnabled ? { DeletionProtectionEnabled: true } : {}),
  };
}

/** Creates a table like the described one (see createTableInput) and waits until it is ACTIVE. */
export async function createTableFromDescription(
  client: DynamoDBClient,
  description: TableDescription,
  name?: string,
): Promise<void> {
  const region = await client.config.region();
  const input = createTableInput(description, name, region);
  const table = input.TableName as string;
  await callDynamo(client, { action: 'CreateTable', table }, () =>
    client.send(new CreateTableCommand(input)),
  );
  await waitUntilActive(client, table);
}

export interface WaitOptions {
  /** Give up after this long; default 15 minutes (large GSIs take a while on AWS). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Polls DescribeTable until the table and all its global secondary indexes are ACTIVE. */
export async function waitUntilActive(
  client: DynamoDBClient,
  table: string,
  options: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  for (let attempt = 1; ; attempt++) {
    const { description } = await describeTable(client, table);
    const indexesActive = (description.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE');
    if (description.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) {
      throw new ServiceError(
        `Table "${table}" at ${await clientLocation(client)} is still ${description.TableStatus ?? 'not ACTIVE'} after waiting`,
      );
    }
    await sleep(backoffDelay(attempt, TABLE_POLL), options.signal);
  }
}
