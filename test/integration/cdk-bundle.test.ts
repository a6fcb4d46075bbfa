/**
 * The Lambda deployment packages really run: `dynamodb-replicator bundle` writes the zips offline,
 * the test unzips them with an independent reader (fflate), imports the bundled `replicate` handler
 * the way Lambda does (the file alone, configured by environment variables) and feeds it records
 * captured from a real DynamoDB Local stream. The replica must equal the source, and the handler's
 * EMF lines must be valid and carry the lag. Bundled once for the file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DeleteItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { unzipSync } from 'fflate';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { captureChanges, toLambdaEvent } from '../harness/stream-capture.js';
import { runCliCapture } from '../harness/cli.js';
import { assertValidEmf } from '../harness/emf.js';
import { withEnv as withRestoredEnv } from '../harness/env.js';
import { bundleTransformModule } from '../../src/deploy/bundle.js';

type Handler = (event: unknown, context?: { awsRequestId?: string }) => Promise<unknown>;

let outDir: string;
let files: string[];

before(async () => {
  outDir = mkdtempSync(path.join(tmpdir(), 'bundle-test-'));
  const result = await runCliCapture(['bundle', '--out', outDir, '--json']);
  assert.equal(result.code, 0, result.stderr);
  files = (JSON.parse(result.stdout) as { files: string[] }).files;
});

after(() => rmSync(outDir, { recursive: true, force: true }));

/** Unzips a package into a folder of its own (a fresh module instance, like a new container). */
function unzipPackage(zip: string): string {
  const entries = unzipSync(readFileSync(zip));
  assert.deepEqual(Object.keys(entries), ['index.mjs']);
  const dir = mkdtempSync(path.join(outDir, 'unzipped-'));
  writeFileSync(path.join(dir, 'index.mjs'), entries['index.mjs'] as Uint8Array);
  return dir;
}

async function importPackage(dir: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(path.join(dir, 'index.mjs')).href)) as Record<string, unknown>;
}

const loadPackage = (zip: string) => importPackage(unzipPackage(zip));

const replicateZip = (): string => files.find((f) => f.endsWith('replicate.zip')) as string;

/** Sets environment variables for one test (the handler reads them on its first invocation). */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
}

/** Runs `fn` with stdout captured line by line (the bundled handler logs and emits EMF there). */
async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await fn(), lines };
  } finally {
    process.stdout.write = original;
  }
}

/** A source table with a stream in "us-east-1" and an empty replica in "eu-west-1" of DynamoDB Local. */
async function tables(stream: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES') {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const sourceTable = await createTestTable(source, { stream });
  const replicaTable = await createTestTable(replica);
  return { endpoint, source, replica, sourceTable, replicaTable };
}

/** The variables naming a replica in "eu-west-1" of DynamoDB Local, as a deployment sets them. */
function replicaEnv(endpoint: string, table: string): Record<string, string> {
  return {
    ReplicaTable: table,
    ReplicaRegion: 'eu-west-1',
    ReplicaEndpoint: endpoint,
    ReplicaAccessKeyId: 'local',
    ReplicaSecretAccessKey: 'local',
  };
}

async function scanAll(client: DynamoDBClient, table: string): Promise<unknown[]> {
  const out = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (out.Items ?? []).sort((a, b) => JSON.stringify(a.id).localeCompare(JSON.stringify(b.id)));
}

test('the bundle command writes one zip per handler, each holding a single index.mjs', async () => {
  assert.deepEqual(files.map((f) => path.basename(f)).sort(), [
    'backup.zip',
    'nativeExport.zip',
    'replicate.zip',
    'scanJob.zip',
    'verify.zip',
  ]);
  const backup = await loadPackage(files.find((f) => f.endsWith('backup.zip')) as string);
  assert.deepEqual(Object.keys(backup), ['backup']);
  assert.equal(typeof backup.backup, 'function');
  const native = await loadPackage(files.find((f) => f.endsWith('nativeExport.zip')) as string);
  assert.deepEqual(Object.keys(native), ['nativeExport']);
  assert.equal(typeof native.nativeExport, 'function');
});

test('the bundled replicate handler, loaded from the zip, replicates a captured batch into DynamoDB Local', async () => {
  const { endpoint, source, replica, sourceTable, replicaTable } = await tables('NEW_AND_OLD_IMAGES');
  const writesStarted = Date.now();
  const capture = await captureChanges(
    source,
    streamsClient(endpoint, 'us-east-1'),
    sourceTable,
    5,
    async () => {
      const items: Record<string, AttributeValue>[] = [
        {
          id: { S: 'a' },
          n: { N: '12345678901234567890123456789012345678' },
          b: { B: Uint8Array.of(0, 255, 7) },
        },
        { id: { S: 'b' }, tags: { SS: ['x', 'y'] } },
        { id: { S: 'c' }, gone: { BOOL: true } },
        { id: { S: 'a' }, n: { N: '-0.000000000000000000000000000000000001' } },
      ];
      for (const Item of items) await source.send(new PutItemCommand({ TableName: sourceTable, Item }));
      await source.send(new DeleteItemCommand({ TableName: sourceTable, Key: { id: { S: 'c' } } }));
    },
  );

  // The handler reads its configuration on the first invocation, like a Lambda cold start.
  const env = {
    ...replicaEnv(endpoint, replicaTable),
    MetricsNamespace: 'BundleTest',
  };
  const { value, lines } = await withEnv(env, async () => {
    const { replicate } = (await loadPackage(replicateZip())) as { replicate: Handler };
    return captureStdout(() => replicate(toLambdaEvent(capture), { awsRequestId: 'bundle-test-1' }));
  });
  assert.deepEqual(value, { batchItemFailures: [] });
  assert.deepEqual(await scanAll(replica, replicaTable), await scanAll(source, sourceTable));
  assert.equal((await scanAll(replica, replicaTable)).length, 2);

  const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const metrics = docs.filter((d) => '_aws' in d);
  assert.equal(metrics.length, 1);
  const emf = metrics[0] as Record<string, unknown>;
  assertValidEmf(emf);
  assert.equal(emf.SourceTable, sourceTable);
  assert.ok(String(emf.ReplicaTable).endsWith(`/${replicaTable}`), String(emf.ReplicaTable));
  assert.equal(emf.RecordsReceived, 5);
  assert.equal(emf.ChangesApplied, 5);
  assert.equal(emf.FailedRecords, 0);
  // The lag runs from the oldest record's creation (dated to the second by Lambda, and DynamoDB Local
  // may round down to the minute) to the end of the batch.
  const lag = emf.ReplicationLag as number;
  assert.ok(lag >= 0 && lag <= Date.now() - writesStarted + 60_000, `lag ${lag}`);
  const namespace = (emf._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0]
    ?.Namespace;
  assert.equal(namespace, 'BundleTest');
  // The structured log line of the batch carries the correlation id and no item values.
  const applied = docs.find((d) => d.message === 'batch applied');
  assert.equal(applied?.correlationId, 'bundle-test-1');
  assert.ok(!lines.join('\n').includes('12345678901234567890123456789012345678'));
});

test('the bundled verify handler, loaded from the zip, counts injected discrepancies exactly and emits them as EMF', async () => {
  const { endpoint, source, replica, sourceTable, replicaTable } = await tables('NEW_IMAGE');
  const put = (client: DynamoDBClient, table: string, id: string, v: string) =>
    client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id }, v: { S: v } } }));
  for (const id of ['a', 'b', 'c', 'd', 'e']) await put(source, sourceTable, id, 'same');
  // The replica: a and b equal, c missing, d different, x extraneous (e equal too).
  for (const id of ['a', 'b', 'e']) await put(replica, replicaTable, id, 'same');
  await put(replica, replicaTable, 'd', 'changed');
  await put(replica, replicaTable, 'x', 'extra');
  const env = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    VerifySourceTable: sourceTable,
    VerifySourceEndpoint: endpoint,
    VerifySettleSeconds: '0',
    ...replicaEnv(endpoint, replicaTable),
    MetricsNamespace: 'BundleTest',
  };
  const { value, lines } = await withRestoredEnv(env, async () => {
    const pkg = await loadPackage(files.find((f) => f.endsWith('verify.zip')) as string);
    assert.deepEqual(Object.keys(pkg), ['verify']);
    return captureStdout(() => (pkg.verify as Handler)({ source: 'aws.events' }));
  });
  const response = value as { checks: { check: string; discrepancies: Record<string, number> }[] };
  assert.equal(response.checks.length, 1);
  assert.deepEqual(response.checks[0]?.discrepancies, { missing: 1, different: 1, extraneous: 1, total: 3 });
  const metrics = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((d) => '_aws' in d);
  assert.equal(metrics.length, 1);
  const emf = metrics[0] as Record<string, unknown>;
  assertValidEmf(emf);
  assert.equal(emf.SourceTable, sourceTable);
  assert.equal(emf.ReplicaTable, `${endpoint}/${replicaTable}`);
  assert.equal(emf.Discrepancies, 3);
  const verifiedAt = emf.VerifiedAt as number;
  assert.ok(
    Number.isInteger(verifiedAt) && Math.abs(verifiedAt - Date.now() / 1000) < 3600,
    String(verifiedAt),
  );
});

test('the main and lambda entry points (and the CLI until template runs) never load aws-cdk-lib or constructs', async () => {
  const esbuild = await import('esbuild');
  for (const entry of ['src/index.ts', 'src/lambda/index.ts', 'src/cli/run.ts']) {
    // Dynamic imports (the template command loads the CDK part on demand) are left out of the graph.
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'static-imports-only',
          setup(build) {
            build.onResolve({ filter: /.*/ }, (args) =>
              args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
            );
          },
        },
      ],
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.length > 10, `${entry}: ${inputs.length} inputs`);
    const cdk = inputs.filter((i) => /node_modules\/(aws-cdk-lib|constructs)\/|src\/cdk\//.test(i));
    assert.deepEqual(cdk, [], `${entry} loads ${cdk.slice(0, 3).join(', ')}`);
  }
});

test('a transform module bundled next to the handler, as the construct packages it, is applied', async () => {
  const { endpoint, source, replica, sourceTable, replicaTable } = await tables('NEW_IMAGE');
  const capture = await captureChanges(
    source,
    streamsClient(endpoint, 'us-east-1'),
    sourceTable,
    2,
    async () => {
      for (const id of ['keep', 'skip'])
        await source.send(new PutItemCommand({ TableName: sourceTable, Item: { id: { S: id } } }));
    },
  );
  const dir = unzipPackage(replicateZip());
  const entry = path.join(dir, 'transform-source.ts');
  writeFileSync(
    entry,
    [
      'type Change = { keys: { id: { S: string } }; newImage?: Record<string, unknown> };',
      'export function transform(change: Change): Change | null {',
      "  if (change.keys.id.S === 'skip') return null;",
      '  return { ...change, newImage: { ...change.newImage, copied: { BOOL: true } } };',
      '}',
    ].join('\n'),
  );
  bundleTransformModule(entry, path.join(dir, 'transform.mjs'));
  await withEnv(
    {
      ...replicaEnv(endpoint, replicaTable),
      TransformModule: 'transform.mjs',
      LAMBDA_TASK_ROOT: dir,
    },
    async () => {
      const { replicate } = (await importPackage(dir)) as { replicate: Handler };
      const { value } = await captureStdout(() => replicate(toLambdaEvent(capture)));
      assert.deepEqual(value, { batchItemFailures: [] });
    },
  );
  assert.deepEqual(await scanAll(replica, replicaTable), [{ id: { S: 'keep' }, copied: { BOOL: true } }]);
});

test('bundle refuses an unknown handler with exit 2', async () => {
  const r = await runCliCapture(['bundle', '--handler', 'nope', '--out', outDir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--handler must be one of replicate, backup, verify/);
  assert.equal(r.stdout, '');
});
