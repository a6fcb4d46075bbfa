/**
 * Bad input corpus: each case is a user mistake or broken input — malformed and truncated Lambda
 * events, unknown event names, KEYS_ONLY streams, images without their key, keys of the wrong type,
 * items over 400 KB, empty and missing tables, mismatched key schemas, corrupt and truncated
 * backups, manifests that lie about counts or checksums, bad locations and CLI arguments, non-UTF-8
 * input files, Lambda batches mixing streams or out of order. Each asserts a clear message naming the
 * exact problem, the documented exit code (2; 0 for the empty-table cases, which are not errors) and
 * that nothing was written to the target. Records DynamoDB could never store (nested past 32 levels,
 * empty names, empty or too long keys) are rejected by the Lambda handler: logged, not retried.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readReplicateConfig } from '../../src/lambda/config.js';
import { createLogger } from '../../src/lambda/log.js';
import { createReplicateHandler } from '../../src/lambda/replicate.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { scanAll } from '../harness/table-items.js';
import { loc, putItems, sampleItem } from './helpers.js';

interface World {
  endpoint: string;
  client: DynamoDBClient;
  /** 5 items, hash key id (S), stream NEW_AND_OLD_IMAGES. */
  source: string;
  /** Empty, hash key id (S): the target every case must leave empty. */
  target: string;
  /** Hash key pk (N). */
  otherSchema: string;
  empty: string;
  keysOnly: string;
  noStream: string;
  dir: string;
  backup: string;
  exportFile: string;
}

let w: World;

async function backupCopy(name: string, mutate: (jobDir: string) => Promise<void>): Promise<string> {
  const copy = path.join(w.dir, name);
  await cp(w.backup, copy, { recursive: true });
  const [job] = await readdir(path.join(copy, 'AWSDynamoDB'));
  await mutate(path.join(copy, 'AWSDynamoDB', job as string));
  return copy;
}

/** Rewrites manifest-files.json and its checksum file, so the manifest lies consistently. */
async function rewriteManifest(jobDir: string, edit: (text: string) => string): Promise<void> {
  const m = path.join(jobDir, 'manifest-files.json');
  const text = edit(await readFile(m, 'utf8'));
  await writeFile(m, text);
  await writeFile(path.join(jobDir, 'manifest-files.checksum'), createHash('md5').update(text).digest('hex'));
}

async function dataFile(jobDir: string): Promise<string> {
  const files = (await readdir(path.join(jobDir, 'data'))).filter((f) => f.endsWith('.json.gz'));
  return path.join(jobDir, 'data', files[0] as string);
}

async function exportWith(name: string, lines: (original: string[]) => (string | Buffer)[]): Promise<string> {
  const original = (await readFile(w.exportFile, 'utf8')).split('\n').filter((l) => l.length > 0);
  const file = path.join(w.dir, name);
  await writeFile(
    file,
    Buffer.concat(lines(original).map((l) => Buffer.concat([Buffer.from(l), Buffer.from('\n')]))),
  );
  return file;
}

/** A change log at `<dir>/<name>` whose log.json says it belongs to `table` with hash key `hash`. */
async function logOfAnother(name: string, table: string, hash = { name: 'id', type: 'S' }): Promise<string> {
  const dir = path.join(w.dir, name);
  await mkdir(dir, { recursive: true });
  const identity = {
    format: 'dynamodb-replicator/log-identity',
    version: 1,
    table,
    keySchema: { hash },
    keyAttributes: [hash],
  };
  await writeFile(path.join(dir, 'log.json'), JSON.stringify(identity));
  return dir;
}

/** A change log of the source (backfilled) holding a base snapshot of another table (the empty target). */
async function logWithForeignSnapshot(name: string): Promise<string> {
  const log = path.join(w.dir, name);
  const other = path.join(w.dir, `${name}-other`);
  for (const [table, dir] of [
    [w.source, log],
    [w.target, other],
  ] as const) {
    const r = await runCliCapture(['incremental-backfill', loc(w.endpoint, table), dir]);
    assert.equal(r.code, 0, r.stderr);
  }
  await cp(path.join(other, 'snapshots'), path.join(log, 'snapshots'), { recursive: true });
  return log;
}

/** Edits the table description of a copy of the backup (its checksum file left as it was). */
const editedDescription = (name: string) =>
  backupCopy(name, async (job) => {
    const file = path.join(job, 'table-description.json');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/"AttributeName": "id"/g, '"AttributeName": "n"'));
  });

after(() => rm(w.dir, { recursive: true, force: true }));

before(async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  await putItems(
    client,
    source,
    Array.from({ length: 5 }, (_, i) => sampleItem(i)),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'bad-input-'));
  w = {
    endpoint,
    client,
    source,
    target: await createTestTable(client),
    otherSchema: await createTestTable(client, { hash: { name: 'pk', type: 'N' } }),
    empty: await createTestTable(client),
    keysOnly: await createTestTable(client, { stream: 'KEYS_ONLY' }),
    noStream: await createTestTable(client),
    dir,
    backup: path.join(dir, 'backup'),
    exportFile: path.join(dir, 'export.jsonl'),
  };
  assert.equal((await runCliCapture(['backup-table', loc(endpoint, source), w.backup])).code, 0);
  const exported = await runCliCapture(['export', loc(endpoint, source), w.exportFile]);
  assert.equal(exported.code, 0, exported.stderr);
});

interface CliCase {
  name: string;
  argv: () => Promise<string[]> | string[];
  message: RegExp;
  code?: number;
}

const T = (table: () => string) => () => loc(w.endpoint, table());
const target = T(() => w.target);
const source = T(() => w.source);

const CLI_CASES: CliCase[] = [
  // Bad locations and arguments.
  {
    name: 'copy: unparseable location',
    argv: () => ['copy', 'not a location', target()],
    message: /not a location.*(region\/table|host:port\/table)/s,
  },
  {
    name: 'copy: location with an empty table name',
    argv: () => ['copy', source(), `${w.endpoint}/?region=us-east-1`],
    message: /no table name after the endpoint/,
  },
  {
    name: 'copy: the same table twice',
    argv: () => ['copy', source(), source()],
    message: /source and the target are the same table/,
  },
  {
    name: 'copy: --parallel 0',
    argv: () => ['copy', source(), target(), '--parallel', '0'],
    message: /--parallel.*(at least 1|>= 1|between)/,
  },
  {
    name: 'copy: --parallel not a number',
    argv: () => ['copy', source(), target(), '--parallel', 'lots'],
    message: /--parallel.*lots/,
  },
  {
    name: 'copy: unknown option',
    argv: () => ['copy', source(), target(), '--frobnicate'],
    message: /frobnicate/,
  },
  {
    name: 'copy: missing argument',
    argv: () => ['copy', source()],
    message: /Usage: dynamodb-replicator copy|argument/,
  },
  { name: 'unknown command', argv: () => ['copie', source(), target()], message: /copie/ },
  // Missing tables and mismatched key schemas.
  {
    name: 'copy: missing source table',
    argv: () => ['copy', loc(w.endpoint, 'no-such-table-x'), target()],
    message: /Table "no-such-table-x" was not found/,
  },
  {
    name: 'copy: missing target table without --create',
    argv: () => ['copy', source(), loc(w.endpoint, 'no-such-target-y')],
    message:
      /no-such-target-y.*(--create|not found|does not exist)|(--create|not found|does not exist).*no-such-target-y/s,
  },
  {
    name: 'copy: target with another key schema',
    argv: () => ['copy', source(), loc(w.endpoint, w.otherSchema)],
    message: /Key schemas differ: .*has hash id \(S\).*has hash pk \(N\)/,
  },
  {
    name: 'diff-tables: replica with another key schema',
    argv: () => ['diff-tables', source(), loc(w.endpoint, w.otherSchema), '--repair'],
    message: /Key schemas differ: .*has hash id \(S\).*has hash pk \(N\)/,
  },
  {
    name: 'diff-tables: missing replica table',
    argv: () => ['diff-tables', source(), loc(w.endpoint, 'no-such-replica-z'), '--repair'],
    message: /Table "no-such-replica-z" was not found/,
  },
  {
    name: 'diff-tables: --backfill without --repair',
    argv: () => ['diff-tables', source(), target(), '--backfill'],
    message: /--backfill.*--repair/,
  },
  {
    name: 'diff-tables: --settle not a duration',
    argv: () => ['diff-tables', source(), target(), '--settle', 'soon'],
    message: /--settle.*soon/,
  },
  // Replication sources without usable streams.
  {
    name: 'replicate: source without a stream',
    argv: () => ['replicate', loc(w.endpoint, w.noStream), target(), '--stop-when-idle', '1s'],
    message: /has no stream enabled/,
  },
  {
    name: 'replicate: --turnover-at in epoch seconds',
    argv: () => [
      'replicate',
      source(),
      target(),
      '--turnover-role',
      'BEFORE',
      '--turnover-at',
      '1767225700',
      '--stop-when-idle',
      '1s',
    ],
    message:
      /--turnover-at must be epoch milliseconds .*looks like epoch seconds; in milliseconds that is 1767225700000/,
  },
  {
    name: 'replicate: KEYS_ONLY stream without --read-through',
    argv: () => ['replicate', loc(w.endpoint, w.keysOnly), target(), '--stop-when-idle', '1s'],
    message: /KEYS_ONLY.*--read-through/s,
  },
  {
    name: 'replicate: --from nonsense',
    argv: () => ['replicate', source(), target(), '--from', 'yesterday'],
    message: /--from.*yesterday|yesterday.*(trim-horizon|latest)/,
  },
  {
    name: 'replicate: --on-gap nonsense',
    argv: () => ['replicate', source(), target(), '--on-gap', 'ignore'],
    message: /--on-gap.*ignore|ignore.*(stop|resync)/,
  },
  {
    name: 'replicate: replica with another key schema',
    argv: () => ['replicate', source(), loc(w.endpoint, w.otherSchema), '--stop-when-idle', '1s'],
    message: /Key schemas differ: .*has hash id \(S\).*has hash pk \(N\)/,
  },
  // Backups: missing, corrupt, truncated, lying manifests.
  {
    name: 'restore: location without a backup',
    argv: async () => ['restore', await mkdtemp(path.join(w.dir, 'nothing-')), target()],
    message: /nothing to restore at \S*nothing-\w+: expected a full backup/,
  },
  {
    name: 'restore: location that does not exist',
    argv: () => ['restore', path.join(w.dir, 'missing-dir'), target()],
    message: /nothing to restore at \S*missing-dir/,
  },
  {
    name: 'restore: corrupt data file (bytes flipped)',
    argv: async () => [
      'restore',
      await backupCopy('corrupt', async (job) => {
        const f = await dataFile(job);
        const b = await readFile(f);
        const at = Math.floor(b.length / 2);
        b.writeUInt8(b.readUInt8(at) ^ 0xff, at);
        await writeFile(f, b);
      }),
      target(),
    ],
    message: /part-0-of-1-\d+\.json\.gz: not a valid gzip stream or truncated/,
  },
  {
    name: 'restore: truncated data file',
    argv: async () => [
      'restore',
      await backupCopy('truncated', async (job) => {
        const f = await dataFile(job);
        const b = await readFile(f);
        await writeFile(f, b.subarray(0, Math.floor(b.length / 2)));
      }),
      target(),
    ],
    message: /part-0-of-1-\d+\.json\.gz: not a valid gzip stream or truncated/,
  },
  {
    name: 'restore: manifest edited after the backup (its checksum file disagrees)',
    argv: async () => [
      'restore',
      await backupCopy('count', async (job) => {
        const m = path.join(job, 'manifest-files.json');
        const t = await readFile(m, 'utf8');
        await writeFile(m, t.replace(/"itemCount":\s*5/, '"itemCount":6'));
      }),
      target(),
    ],
    message: /manifest-files\.checksum does not match the manifest's MD5/,
  },
  {
    name: 'restore: self-consistent manifest lies about the item count',
    argv: async () => [
      'restore',
      await backupCopy('count-consistent', (job) =>
        rewriteManifest(job, (t) => t.replace(/"itemCount":\s*5/, '"itemCount":6')),
      ),
      target(),
    ],
    message: /manifest-files\.json lists 6 items but manifest-summary\.json says 5/,
  },
  {
    name: 'restore: self-consistent manifest lies about a file MD5',
    argv: async () => [
      'restore',
      await backupCopy('md5-consistent', (job) =>
        rewriteManifest(job, (t) =>
          t.replace(
            /"md5Checksum":\s*"[^"]+"/,
            `"md5Checksum":"${createHash('md5').update('lie').digest('base64')}"`,
          ),
        ),
      ),
      target(),
    ],
    message: /MD5 .* does not match the manifest's/,
  },
  {
    name: 'restore: manifest MD5 edited after the backup',
    argv: async () => [
      'restore',
      await backupCopy('md5', async (job) => {
        const m = path.join(job, 'manifest-files.json');
        const t = await readFile(m, 'utf8');
        await writeFile(
          m,
          t.replace(
            /"md5Checksum":\s*"[^"]+"/,
            `"md5Checksum":"${createHash('md5').update('lie').digest('base64')}"`,
          ),
        );
      }),
      target(),
    ],
    message: /manifest-files\.checksum does not match the manifest's MD5/,
  },
  {
    name: 'restore: data file re-gzipped with one line less, manifest unchanged',
    argv: async () => [
      'restore',
      await backupCopy('lines', async (job) => {
        const f = await dataFile(job);
        const lines = gunzipSync(await readFile(f))
          .toString('utf8')
          .split('\n')
          .filter(Boolean);
        await writeFile(f, gzipSync(lines.slice(1).join('\n') + '\n'));
      }),
      target(),
    ],
    message: /part-0-of-1-\d+\.json\.gz: MD5 \S+ does not match the manifest's/,
  },
  {
    name: 'restore: manifest-summary is not JSON',
    argv: async () => [
      'restore',
      await backupCopy('summary', async (job) => {
        await writeFile(path.join(job, 'manifest-summary.json'), '{"version": "2020-06-30", ');
      }),
      target(),
    ],
    message: /manifest-summary\.checksum does not match the manifest's MD5/,
  },
  {
    name: 'restore: --at not a time',
    argv: () => ['restore', w.backup, target(), '--at', 'teatime'],
    message: /--at.*teatime|teatime/,
  },
  {
    name: 'restore: into a table with another key schema',
    argv: () => ['restore', w.backup, loc(w.endpoint, w.otherSchema)],
    message: /Key schemas differ: .*has hash id \(S\), no range key; the target table has hash pk \(N\)/,
  },
  {
    name: 'restore: table description edited after the backup',
    argv: async () => ['restore', await editedDescription('description'), target()],
    message: /table-description\.checksum does not match the MD5 of table-description\.json/,
  },
  {
    name: 'restore --create: table description edited after the backup',
    argv: async () => [
      'restore',
      await editedDescription('description-create'),
      loc(w.endpoint, 'created-from-edited'),
      '--create',
    ],
    message: /table-description\.checksum does not match the MD5 of table-description\.json/,
  },
  // Change logs of another table, and logs holding another table's parts.
  {
    name: 'incremental-backfill: the change log of another table',
    argv: async () => ['incremental-backfill', source(), await logOfAnother('log-a', 'other-table')],
    message: /is the change log of table "other-table", hash id \(S\), no range key, not of table "test-\w+"/,
  },
  {
    name: 'incremental-backup-record: the change log of another table',
    argv: async () => [
      'incremental-backup-record',
      source(),
      await logOfAnother('log-b', 'other-table'),
      '{"id":"item-0"}',
    ],
    message: /is the change log of table "other-table".*refusing to write into it/,
  },
  {
    name: 'replicate --backup: a log kept for another key schema under the table name',
    argv: async () => {
      const root = path.join(w.dir, 'log-c');
      await logOfAnother(path.join('log-c', w.source), w.source, { name: 'pk', type: 'N' });
      return [
        'replicate',
        source(),
        target(),
        '--backup',
        root,
        '--stop-when-idle',
        '1s',
        '--checkpoint',
        path.join(root, 'cp.json'),
      ];
    },
    message:
      /is the change log of table "test-\w+", hash pk \(N\), no range key, not of table "test-\w+", hash id \(S\)/,
  },
  {
    name: 'restore: a change log holding a snapshot of another table',
    argv: async () => ['restore', await logWithForeignSnapshot('log-d'), target()],
    message:
      /holds parts of different tables: log\.json is of table "test-\w+".*snapshots\/\w+ of table "test-\w+"/,
  },
  {
    name: 'incremental-snapshot: a change log holding a snapshot of another table',
    argv: async () => [
      'incremental-snapshot',
      await logWithForeignSnapshot('log-e'),
      path.join(w.dir, 'log-e-compacted'),
    ],
    message: /holds parts of different tables/,
  },
  // Import files: malformed, truncated, non-UTF-8, oversized items, bad keys.
  {
    name: 'import: malformed JSON line',
    argv: async () => [
      'import',
      await exportWith('malformed.jsonl', (l) => [...l.slice(0, 3), '{"id":{"S":"x"', ...l.slice(3)]),
      target(),
    ],
    message: /line 4: not valid JSON/,
  },
  {
    name: 'import: truncated last line',
    argv: async () => [
      'import',
      await exportWith('truncated.jsonl', (l) => [...l.slice(0, -1), (l.at(-1) as string).slice(0, 20)]),
      target(),
    ],
    message: /line 6: not valid JSON/,
  },
  {
    name: 'import: non-UTF-8 bytes',
    argv: async () => [
      'import',
      await exportWith('latin1.jsonl', (l) => [
        ...l.slice(0, 2),
        Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0xe9, 0xff, 0x7d]),
        ...l.slice(2),
      ]),
      target(),
    ],
    message: /line 3: not valid UTF-8/,
  },
  {
    name: 'import: Latin-1 byte inside a string value',
    argv: async () => [
      'import',
      await exportWith('latin1-value.jsonl', (l) => [
        ...l,
        Buffer.concat([Buffer.from('{"id":{"S":"caf'), Buffer.from([0xe9]), Buffer.from('"}}')]),
      ]),
      target(),
    ],
    message: /line 7: not valid UTF-8/,
  },
  {
    name: 'import: item over 400 KB',
    argv: async () => [
      'import',
      await exportWith('big.jsonl', (l) => [
        ...l,
        JSON.stringify({ id: { S: 'huge' }, pad: { S: 'x'.repeat(410_000) } }),
      ]),
      target(),
    ],
    message: /line 7: item \{"id":\{"S":"huge"\}\} is \d+ bytes, over DynamoDB's limit of 409600 bytes/,
  },
  {
    name: 'import: item nested 20,000 levels',
    argv: async () => [
      'import',
      await exportWith('deep.jsonl', (l) => [
        ...l,
        `{"id":{"S":"deep"},"d":${'{"M":{"a":'.repeat(20_000)}{"S":"x"}${'}}'.repeat(20_000)}}`,
      ]),
      target(),
    ],
    message: /line 7: item: attribute "d" nests deeper than DynamoDB's limit of 32 levels/,
  },
  {
    name: 'import: item with an empty key value',
    argv: async () => [
      'import',
      await exportWith('empty-key.jsonl', (l) => [...l, JSON.stringify({ id: { S: '' } })]),
      target(),
    ],
    message: /line 7: item \{"id":\{"S":""\}\}: partition key attribute "id" is empty/,
  },
  {
    name: 'import: item without its key attribute',
    argv: async () => [
      'import',
      await exportWith('nokey.jsonl', (l) => [...l, JSON.stringify({ other: { S: 'no id' } })]),
      target(),
    ],
    message: /line 7: item has no key attribute "id" \(expected type S\)/,
  },
  {
    name: 'import: key of the wrong type',
    argv: async () => [
      'import',
      await exportWith('wrongtype.jsonl', (l) => [...l, JSON.stringify({ id: { N: '7' } })]),
      target(),
    ],
    message: /line 7: key attribute "id" has type N, expected S/,
  },
  {
    name: 'import: file that does not exist',
    argv: () => ['import', path.join(w.dir, 'nope.jsonl'), target()],
    message: /nope\.jsonl/,
  },
  // Empty tables are not errors: exit 0, nothing written.
  {
    name: 'copy: an empty source table copies nothing',
    argv: () => ['copy', loc(w.endpoint, w.empty), target()],
    message: /copied 0 items/,
    code: 0,
  },
  {
    name: 'diff-tables: two empty tables are equal',
    argv: () => ['diff-tables', loc(w.endpoint, w.empty), target()],
    message: /scanned 0 \+ 0 items/,
    code: 0,
  },
];

describe('bad input: CLI', () => {
  for (const c of CLI_CASES) {
    test(c.name, async (t) => {
      const r = await runCliCapture(await c.argv());
      const text = r.stdout + r.stderr;
      t.diagnostic(text.trim().split('\n')[0] ?? '');
      assert.equal(r.code, c.code ?? 2, text);
      assert.match(text, c.message);
      assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
      assert.equal((await scanAll(w.client, w.target)).length, 0, 'nothing written to the target');
    });
  }
});

type Json = Record<string, unknown>;
const ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/src/stream/2026-01-01T00:00:00.000';

function record(overrides: Json = {}, ddb: Json = {}): Json {
  return {
    eventID: '1',
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: ARN,
    dynamodb: {
      ApproximateCreationDateTime: 1767225600,
      Keys: { id: { S: 'a' } },
      NewImage: { id: { S: 'a' }, v: { N: '1' } },
      SequenceNumber: '100000000000000000001',
      SizeBytes: 20,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...ddb,
    },
    ...overrides,
  };
}

const good = record();
const LAMBDA_CASES: { name: string; event: unknown; message: RegExp }[] = [
  { name: 'event is null', event: null, message: /event/i },
  { name: 'event without Records', event: { records: [] }, message: /Records/ },
  { name: 'Records is not an array', event: { Records: 'x' }, message: /Records/ },
  {
    name: 'truncated event (record cut after eventName)',
    event: { Records: [good, { eventID: '2', eventName: 'MODIFY' }] },
    message: /stream record 1 \(eventID 2\): dynamodb must be an object/,
  },
  { name: 'unknown event name', event: { Records: [record({ eventName: 'UPSERT' })] }, message: /UPSERT/ },
  {
    name: 'KEYS_ONLY stream record',
    event: { Records: [record({}, { NewImage: undefined, StreamViewType: 'KEYS_ONLY' })] },
    message: /KEYS_ONLY/,
  },
  {
    name: 'new image missing the key attribute',
    event: { Records: [record({}, { NewImage: { v: { N: '1' } } })] },
    message: /new image: item has no key attribute "id" \(expected type S\)/,
  },
  {
    name: 'key of the wrong type',
    event: { Records: [record({}, { Keys: { id: { N: '1' } }, NewImage: { id: { N: '1' } } })] },
    message: /has key \{"id":\{"N":"1"\}\}, which does not fit the key schema id \(S, hash\)/,
  },
  {
    name: 'sequence number not decimal',
    event: { Records: [good, record({ eventID: '2' }, { SequenceNumber: 'abc' })] },
    message: /SequenceNumber/,
  },
  {
    name: 'number attribute not a string',
    event: { Records: [record({}, { NewImage: { id: { S: 'a' }, v: { N: 1 } } })] },
    message: /\bv\b.*N must be a string|N must be a string/,
  },
  {
    name: 'unknown attribute type',
    event: { Records: [record({}, { NewImage: { id: { S: 'a' }, v: { Q: '1' } } })] },
    message: /\bQ\b|type/,
  },
  {
    name: 'batch mixing two streams',
    event: {
      Records: [
        good,
        record(
          { eventID: '2', eventSourceARN: ARN.replace('table/src/', 'table/other/') },
          { SequenceNumber: '100000000000000000002' },
        ),
      ],
    },
    message: /^the event mixes 2 event sources .*: a batch must come from one stream$/,
  },
  {
    name: 'sequence numbers out of order',
    event: { Records: [record({}, { SequenceNumber: '100000000000000000002' }), record({ eventID: '2' })] },
    message:
      /^stream record 1 has sequence number 100000000000000000001, not after record 0's 100000000000000000002: a batch's records must be in stream order$/,
  },
];

function nested(levels: number): Json {
  let v: Json = { S: 'leaf' };
  for (let i = 0; i < levels; i++) v = { M: { a: v } };
  return v;
}

/** Records DynamoDB could never store: rejected (logged, counted), not retried; nothing written. */
const REJECTED_CASES: { name: string; event: () => unknown; error: RegExp }[] = [
  {
    name: 'image nested 33 levels',
    event: () => ({ Records: [record({}, { NewImage: { id: { S: 'a' }, d: nested(32) } })] }),
    error: /dynamodb\.NewImage: attribute "d" nests deeper than DynamoDB's limit of 32 levels$/,
  },
  {
    name: 'image nested 20,000 levels',
    event: () => ({ Records: [record({}, { NewImage: { id: { S: 'a' }, d: nested(20_000) } })] }),
    error: /dynamodb\.NewImage: attribute "d" nests deeper than DynamoDB's limit of 32 levels$/,
  },
  {
    name: 'empty attribute name',
    event: () => ({ Records: [record({}, { NewImage: { id: { S: 'a' }, '': { S: 'x' } } })] }),
    error: /dynamodb\.NewImage: an attribute name is empty$/,
  },
  {
    name: 'empty key string',
    event: () => ({ Records: [record({}, { Keys: { id: { S: '' } }, NewImage: { id: { S: '' } } })] }),
    error: /^item \{"id":\{"S":""\}\}: partition key attribute "id" is empty$/,
  },
  {
    name: 'partition key over 2,048 bytes',
    event: () => {
      const id = { S: 'é'.repeat(1025) };
      return { Records: [record({}, { Keys: { id }, NewImage: { id } })] };
    },
    error: /partition key attribute "id" is 2050 bytes, over DynamoDB's limit of 2048 bytes$/,
  },
];

function replicateHandler(write: (line: string) => void = () => undefined) {
  return createReplicateHandler(
    readReplicateConfig({
      ReplicaTable: w.target,
      ReplicaRegion: 'us-east-1',
      ReplicaEndpoint: w.endpoint,
      ReplicaAccessKeyId: 'local',
      ReplicaSecretAccessKey: 'local',
    }),
    { logger: createLogger({ level: 'error', write }), metrics: () => undefined },
  );
}

describe('bad input: records the replicate Lambda handler rejects', () => {
  for (const c of REJECTED_CASES) {
    test(c.name, async () => {
      const lines: Record<string, unknown>[] = [];
      const handle = replicateHandler((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
      assert.deepEqual(await handle(c.event()), { batchItemFailures: [] });
      const rejected = lines.find((l) => l.message === 'records rejected')?.rejectedRecords as {
        sequenceNumber: string;
        error: string;
      }[];
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0]?.sequenceNumber, '100000000000000000001');
      assert.match(rejected[0]?.error ?? '', c.error);
      assert.equal((await scanAll(w.client, w.target)).length, 0, 'nothing written to the replica');
    });
  }
});

describe('bad input: replicate Lambda handler', () => {
  for (const c of LAMBDA_CASES) {
    test(c.name, async () => {
      const handle = replicateHandler();
      await assert.rejects(handle(JSON.parse(JSON.stringify(c.event ?? null)) as unknown), (e: Error) => {
        assert.match(e.message, c.message);
        return true;
      });
      assert.equal((await scanAll(w.client, w.target)).length, 0, 'nothing written to the replica');
    });
  }
});

test('the corpus has the number of cases the reliability docs state', () => {
  assert.equal(CLI_CASES.length + LAMBDA_CASES.length + REJECTED_CASES.length, 70);
});
