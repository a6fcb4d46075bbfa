/**
 * `backup-table --native`: full and incremental DynamoDB exports, waited for, verified, indexed, and
 * read back by `restore`, `restore --at` and `diff-tables --against-backup`.
 *
 * DynamoDB Local has no export API: every test here uses the export stand-in
 * (test/harness/export-stand-in.ts), which answers ExportTableToPointInTime and DescribeExport in
 * front of DynamoDB Local and writes the documented export layout into s3rver.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  backupTableNative,
  checkNativeBackup,
  finishNativeBackup,
  startNativeBackup,
  type NativeExportStarted,
} from '../../src/backup/native-backup.js';
import { canonicalKey } from '../../src/core/canonical-key.js';
import { ConfigError, InvalidDataError, ServiceError, UsageError } from '../../src/core/errors.js';
import type { Item } from '../../src/core/types.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { createLogger } from '../../src/lambda/log.js';
import { createNativeExportHandler, readNativeExportConfig } from '../../src/lambda/native-export.js';
import { listKeys } from '../harness/backup-stores.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { startExportStandIn, type ExportStandIn } from '../harness/export-stand-in.js';
import { startLocalS3 } from '../harness/s3.js';
import { scanAll } from '../harness/table-items.js';

// Set up at the top level: the harness stops its servers after the file, not after a hook.
const endpoint = await dynamoEndpoint();
const client: DynamoDBClient = dynamoClient(endpoint);
const s3 = await startLocalS3();
const bucket = await s3.createBucket();
const standIn: ExportStandIn = await startExportStandIn(endpoint, s3.client);
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const s3Options = { endpoint: s3.endpoint, credentials };
const s3Env = {
  S3_ENDPOINT: s3.endpoint,
  S3_ACCESS_KEY_ID: credentials.accessKeyId,
  S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
};

const cli = (...argv: string[]) => runCliCapture(argv, { env: { ...process.env, ...s3Env } });
/** A table location through the stand-in (exports) in front of DynamoDB Local (everything else). */
const at = (table: string) => `${standIn.endpoint}/${table}?region=us-east-1`;
const store = (url: string): ObjectStore => openObjectStore(url, { s3: s3Options });

function row(id: string, extra: Item = {}): Item {
  return {
    id: { S: id },
    n: { N: `${id.length}.50` },
    b: { B: Buffer.from(id) },
    tags: { SS: ['tag', `t-${id}`] },
    ...extra,
  };
}

async function put(table: string, items: readonly Item[]): Promise<void> {
  for (const item of items) await client.send(new PutItemCommand({ TableName: table, Item: item as never }));
}

async function remove(table: string, id: string): Promise<void> {
  await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
}

/** The table's items, sorted by key: for exact comparison. */
async function state(table: string): Promise<Item[]> {
  const items = await scanAll(client, table);
  return items.sort((a, b) =>
    canonicalKey({ id: a.id as never }) < canonicalKey({ id: b.id as never }) ? -1 : 1,
  );
}

/**
 * Waits (polling the clock) until a whole second at least 100 ms away has begun, and returns it: the
 * stand-in ends windows on whole seconds, so writes (observed) before and after it fall on its two sides.
 */
async function nextSecond(): Promise<number> {
  const second = Math.ceil((Date.now() + 100) / 1000) * 1000;
  while (Date.now() < second + 20) await new Promise((r) => setTimeout(r, 10));
  return second;
}

async function restoreAndRead(
  location: string,
  extra: string[] = [],
): Promise<{ code: number; items: Item[]; stderr: string }> {
  const target = await createTestTable(client);
  const r = await cli('restore', location, at(target), ...extra);
  return { code: r.code, stderr: r.stderr, items: r.code === 0 ? await state(target) : [] };
}

describe('full native export', () => {
  test('backup then restore gives an identical table; diff-tables --against-backup is equal, then names the 1 change', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    const items = Array.from({ length: 40 }, (_, i) =>
      row(`k${String(i).padStart(2, '0')}`, { m: { M: { i: { N: String(i) } } } }),
    );
    await put(table, items);
    const location = `s3://${bucket}/${uniqueName('full')}`;
    const describesBefore = standIn.describes();
    const r = await cli('backup-table', at(table), location, '--native', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { kind: string; items: number; snapshot: string; exportArn: string };
    assert.equal(out.kind, 'full');
    assert.equal(out.items, 40);
    assert.match(out.exportArn, new RegExp(`table/${table}/export/`));
    // IN_PROGRESS on the first poll, COMPLETED on a later one.
    assert.ok(standIn.describes() - describesBefore >= 2);
    // The export was requested as documented, and indexed as a base snapshot with our description.
    const request = standIn.started.at(-1) as Record<string, unknown>;
    assert.equal(request.ExportType, 'FULL_EXPORT');
    assert.equal(request.ExportFormat, 'DYNAMODB_JSON');
    assert.equal(request.S3Bucket, bucket);
    const keys = await listKeys(store(location));
    assert.ok(keys.includes(`snapshots/${out.snapshot}/snapshot.json`), keys.join('\n'));
    assert.equal(keys.filter((k) => /\/AWSDynamoDB\/[^/]+\/data\/[^/]+\.json\.gz$/.test(k)).length, 3);
    assert.ok(keys.some((k) => k.endsWith('/table-description.json')));

    const restored = await restoreAndRead(location);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(restored.items.length, 40);
    assert.deepEqual(restored.items, await state(table));

    let diff = await cli('diff-tables', at(table), location, '--against-backup', '--json');
    assert.equal(diff.code, 0, diff.stderr);
    const equal = JSON.parse(diff.stdout) as {
      discrepancies: { total: number };
      scanned: Record<string, number>;
    };
    assert.equal(equal.discrepancies.total, 0);
    assert.deepEqual(equal.scanned, { primary: 40, replica: 40 });

    await put(table, [row('k07', { m: { S: 'changed' } })]);
    diff = await cli('diff-tables', at(table), location, '--against-backup', '--json');
    assert.equal(diff.code, 1, diff.stderr);
    const changed = JSON.parse(diff.stdout) as { discrepancies: { total: number; different: number } };
    assert.equal(changed.discrepancies.total, 1);
    assert.equal(changed.discrepancies.different, 1);
  });
});

describe('incremental native exports', () => {
  test('restore --at several moments gives exactly the state then; a moment a window hides is refused', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    const location = `s3://${bucket}/${uniqueName('incr')}`;
    await put(
      table,
      Array.from({ length: 10 }, (_, i) => row(`i${i}`)),
    );
    await standIn.observe(table, 10);
    const stateE = await state(table);
    let r = await cli('backup-table', at(table), location, '--native', '--json');
    assert.equal(r.code, 0, r.stderr);
    const exportTime = (JSON.parse(r.stdout) as { exportTime: number }).exportTime;

    await nextSecond();
    await put(table, [row('i1', { v: { S: 'a' } }), row('a1'), row('tmp')]);
    await remove(table, 'i2');
    await remove(table, 'tmp'); // inserted and deleted in one window: no record at all
    await standIn.observe(table, 5);
    const stateA = await state(table);
    await nextSecond();
    r = await cli('backup-table', at(table), location, '--native', '--incremental', '--json');
    assert.equal(r.code, 0, r.stderr);
    const w1 = JSON.parse(r.stdout) as { kind: string; items: number; from: number; to: number };
    assert.equal(w1.kind, 'incremental');
    assert.equal(w1.from, exportTime);
    assert.equal(w1.items, 3); // i1 modified, a1 inserted, i2 deleted
    const request = standIn.started.at(-1) as Record<string, unknown>;
    assert.equal(request.ExportType, 'INCREMENTAL_EXPORT');
    assert.deepEqual(
      (request.IncrementalExportSpecification as Record<string, unknown>).ExportViewType,
      'NEW_AND_OLD_IMAGES',
    );

    await put(table, [row('i1', { v: { S: 'b1' } }), row('i3', { v: { S: 'b' } })]);
    await remove(table, 'a1');
    await standIn.observe(table, 3);
    const inside = (await nextSecond()) - 1;
    await put(table, [row('i1', { v: { S: 'b2' } }), row('b1')]);
    await standIn.observe(table, 2);
    const stateB = await state(table);
    await nextSecond();
    r = await cli('backup-table', at(table), location, '--native', '--incremental', '--json');
    assert.equal(r.code, 0, r.stderr);
    const w2 = JSON.parse(r.stdout) as { items: number; from: number; to: number };
    assert.equal(w2.from, w1.to);
    assert.equal(w2.items, 4); // i1, i3, a1 (deleted), b1

    const keys = await listKeys(store(location));
    assert.equal(keys.filter((k) => k.startsWith('exports/')).length, 2);
    // The documented incremental layout: data files in the shared AWSDynamoDB/data/ folder.
    assert.equal(keys.filter((k) => /^incremental\/AWSDynamoDB\/data\/[^/]+\.json\.gz$/.test(k)).length, 4);

    for (const [moment, expected, label] of [
      [exportTime, stateE, 'the full export'],
      [w1.to - 1, stateA, 'the end of window 1'],
      [w2.to - 1, stateB, 'the end of window 2'],
    ] as const) {
      const restored = await restoreAndRead(location, ['--at', new Date(moment).toISOString()]);
      assert.equal(restored.code, 0, `${label}: ${restored.stderr}`);
      assert.deepEqual(restored.items, expected, label);
    }
    const latest = await restoreAndRead(location);
    assert.equal(latest.code, 0, latest.stderr);
    assert.deepEqual(latest.items, stateB);

    // Inside window 2, i1 and b1 changed later: the export kept only their last change.
    const refused = await restoreAndRead(location, ['--at', new Date(inside).toISOString()]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is inside native incremental export .*2 items changed after/);

    const diff = await cli('diff-tables', at(table), location, '--against-backup', '--json');
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal((JSON.parse(diff.stdout) as { discrepancies: { total: number } }).discrepancies.total, 0);
  });
});

describe('the resumable steps (start, check, finish)', () => {
  test('a full export then an incremental one through the steps as JSON: the same results as backupTableNative, restore equal', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    await put(
      table,
      Array.from({ length: 25 }, (_, i) => row(`s${String(i).padStart(2, '0')}`)),
    );
    await standIn.observe(table, 25);
    const viaStandIn = dynamoClient(standIn.endpoint);
    const location = `s3://${bucket}/${uniqueName('steps')}`;
    const compare = `s3://${bucket}/${uniqueName('steps-compare')}`;
    // Each step gets the previous one's output through JSON, as a state machine passes it.
    const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
    const runSteps = async (incremental: boolean) => {
      const started = roundTrip(await startNativeBackup(viaStandIn, store(location), { table, incremental }));
      assert.equal(started.kind, incremental ? 'incremental' : 'full');
      assert.equal(started.table, table);
      // Finishing before the export completed is refused, nothing indexed.
      await assert.rejects(
        finishNativeBackup(viaStandIn, store(location), started),
        (e: Error) => e instanceof UsageError && /is still IN_PROGRESS: check it again later/.test(e.message),
      );
      let checks = 0;
      for (;;) {
        checks++;
        const check = await checkNativeBackup(viaStandIn, roundTrip(started) as NativeExportStarted);
        assert.equal(check.exportArn, started.exportArn);
        if (check.state === 'COMPLETED') break;
      }
      assert.equal(checks, 1); // the stand-in's second DescribeExport (the finish's was the first)
      return finishNativeBackup(viaStandIn, store(location), roundTrip(started));
    };
    try {
      const full = await runSteps(false);
      const direct = await backupTableNative(viaStandIn, store(compare), { table });
      assert.equal(full.kind, 'full');
      assert.equal(full.itemCount, 25);
      assert.equal(direct.itemCount, 25);
      assert.equal(full.snapshot?.itemCount, 25);
      let restored = await restoreAndRead(location);
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal(restored.items.length, 25);
      assert.deepEqual(restored.items, await state(table));

      await nextSecond();
      await put(table, [row('s01', { v: { S: 'x' } }), row('new')]);
      await remove(table, 's02');
      await standIn.observe(table, 3);
      await nextSecond();
      const incremental = await runSteps(true);
      assert.equal(incremental.kind, 'incremental');
      assert.equal(incremental.itemCount, 3);
      assert.equal(incremental.window?.from, full.snapshot?.completedAt);
      restored = await restoreAndRead(location);
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal(restored.items.length, 25);
      assert.deepEqual(restored.items, await state(table));
    } finally {
      viaStandIn.destroy();
    }
  });

  test('check of a FAILED export: the same error as backupTableNative; finish refuses it too', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    await put(table, [row('f')]);
    standIn.failNext('S3AccessDenied', 'Access denied to bucket');
    const viaStandIn = dynamoClient(standIn.endpoint);
    const location = `s3://${bucket}/${uniqueName('steps-failed')}`;
    try {
      const started = await startNativeBackup(viaStandIn, store(location), { table });
      const first = await checkNativeBackup(viaStandIn, started);
      assert.equal(first.state, 'IN_PROGRESS');
      const failed = (e: Error) =>
        e instanceof ServiceError &&
        /FAILED: S3AccessDenied: Access denied to bucket \(nothing was indexed\)/.test(e.message);
      await assert.rejects(checkNativeBackup(viaStandIn, started), failed);
      await assert.rejects(finishNativeBackup(viaStandIn, store(location), started), failed);
      assert.deepEqual(await listKeys(store(location)), []);
    } finally {
      viaStandIn.destroy();
    }
  });
});

describe('the nativeExport Lambda handler', () => {
  test('start, check until COMPLETED, finish: a base snapshot in <prefix>/<table>/ with every item', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    await put(
      table,
      Array.from({ length: 12 }, (_, i) => row(`h${i}`)),
    );
    const prefix = uniqueName('handler');
    const viaStandIn = dynamoClient(standIn.endpoint);
    const lines: string[] = [];
    const config = readNativeExportConfig({
      NativeExportTable: table,
      BackupBucket: bucket,
      BackupPrefix: prefix,
    });
    assert.equal(config.kind, 'full');
    const handler = createNativeExportHandler(config, {
      client: viaStandIn,
      store: store(`s3://${bucket}/${prefix}`),
      logger: createLogger({ write: (line) => lines.push(line) }),
    });
    try {
      const started = (await handler({ action: 'start' })) as { kind: string; exportArn: string };
      assert.equal(started.kind, 'full');
      let checks = 0;
      let check: { state: string };
      do {
        checks++;
        check = (await handler({ action: 'check', started })) as { state: string };
      } while (check.state === 'IN_PROGRESS');
      assert.equal(checks, 2);
      assert.equal(check.state, 'COMPLETED');
      const result = (await handler({ action: 'finish', started })) as { kind: string; itemCount: number };
      assert.equal(result.kind, 'full');
      assert.equal(result.itemCount, 12);
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { message: string }).message),
        ['native export started', 'native export indexed'],
      );
      const restored = await restoreAndRead(`s3://${bucket}/${prefix}/${table}`);
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(restored.items, await state(table));

      // The event can name neither another action nor another table's export.
      await assert.rejects(
        handler({ action: 'delete' }),
        (e: Error) =>
          e instanceof InvalidDataError && /"action" must be one of start, check, finish/.test(e.message),
      );
      await assert.rejects(
        handler({ action: 'finish', started: { ...started, table: 'other' } }),
        (e: Error) =>
          e instanceof InvalidDataError && /must be the output of the start step for table/.test(e.message),
      );
    } finally {
      viaStandIn.destroy();
    }
  });

  test('its configuration errors name the variable', () => {
    assert.throws(
      () => readNativeExportConfig({ BackupBucket: bucket }),
      (e: Error) => e instanceof ConfigError && /^NativeExportTable is not set/.test(e.message),
    );
    assert.throws(
      () =>
        readNativeExportConfig({ NativeExportTable: 't', NativeExportKind: 'daily', BackupBucket: bucket }),
      (e: Error) =>
        e instanceof ConfigError &&
        /NativeExportKind must be one of full, incremental, got "daily"/.test(e.message),
    );
    assert.throws(
      () => readNativeExportConfig({ NativeExportTable: 't' }),
      (e: Error) => e instanceof ConfigError && /^BackupBucket is not set/.test(e.message),
    );
  });
});

describe('refusals', () => {
  test('a directory location is refused before any export starts (exit 2)', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    const dir = mkdtempSync(path.join(tmpdir(), 'native-'));
    const startedBefore = standIn.started.length;
    const r = await cli('backup-table', at(table), dir, '--native');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --native needs an S3 backup location/);
    assert.equal(standIn.started.length, startedBefore);
  });

  test('misused options and an incremental export with nothing to continue from: exit 2, no export', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    const location = `s3://${bucket}/${uniqueName('misuse')}`;
    const startedBefore = standIn.started.length;
    for (const [argv, message] of [
      [['--incremental'], /--incremental needs --native/],
      [['--native', '--parallel', '8'], /--parallel is for scan backups/],
      [['--native', '--from', '2026-01-01T00:00:00Z'], /--from and --to need --incremental/],
      [['--native', '--incremental'], /has no base snapshot and no incremental export to continue from/],
    ] as const) {
      const r = await cli('backup-table', at(table), location, ...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, message);
    }
    assert.equal(standIn.started.length, startedBefore);
    assert.deepEqual(await listKeys(store(location)), []);
  });

  test('the wait is bounded by its deadline: a clear error, the export left running, nothing indexed', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    const location = `s3://${bucket}/${uniqueName('deadline')}`;
    // A clock that jumps an hour at each reading after the first: the deadline passes at once.
    let reading = 0;
    const now = () => Date.parse('2026-11-01T00:00:00Z') + 3_600_000 * Math.max(0, reading++ - 1);
    const viaStandIn = dynamoClient(standIn.endpoint);
    await assert.rejects(
      backupTableNative(viaStandIn, store(location), { table, timeoutMs: 60_000, now }),
      (e: Error) =>
        e instanceof ServiceError &&
        new RegExp(`export arn:\\S+/export/\\S+ of table "${table}" is still IN_PROGRESS after 60 s`).test(
          e.message,
        ),
    );
    viaStandIn.destroy();
    const keys = await listKeys(store(location));
    assert.equal(
      keys.filter((k) => /snapshot\.json$|log\.json$|^exports\//.test(k)).length,
      0,
      keys.join('\n'),
    );
  });

  test('a table without point-in-time recovery: a clear usage error, nothing written', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    standIn.disablePitr(table);
    const location = `s3://${bucket}/${uniqueName('nopitr')}`;
    const r = await cli('backup-table', at(table), location, '--native');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /needs point-in-time recovery \(PITR\), which is not enabled on table/);
    assert.match(r.stderr, /update-continuous-backups/);
    assert.deepEqual(await listKeys(store(location)), []);
  });

  test('a FAILED export: its failure code and message, nothing indexed', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    await put(table, [row('x')]);
    standIn.failNext('S3AccessDenied', 'Access denied to bucket');
    const location = `s3://${bucket}/${uniqueName('failed')}`;
    const r = await cli('backup-table', at(table), location, '--native');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /FAILED: S3AccessDenied: Access denied to bucket/);
    assert.deepEqual(await listKeys(store(location)), []);
  });

  test('a data file whose MD5 does not match: refused, nothing indexed, nothing restored', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    await put(
      table,
      Array.from({ length: 6 }, (_, i) => row(`c${i}`)),
    );
    standIn.corruptNext();
    const location = `s3://${bucket}/${uniqueName('corrupt')}`;
    const r = await cli('backup-table', at(table), location, '--native');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /MD5 \S+ does not match the manifest's/);
    const keys = await listKeys(store(location));
    assert.equal(keys.filter((k) => k.endsWith('snapshot.json') || k.endsWith('log.json')).length, 0);
    const target = uniqueName('never');
    const restore = await cli('restore', location, at(target), '--create');
    assert.equal(restore.code, 2);
    await assert.rejects(scanAll(client, target), /ResourceNotFoundException|non-existent table/);
  });
});
