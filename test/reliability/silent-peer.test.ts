/**
 * Every network call has a deadline: a peer that accepts connections and never answers, or answers
 * the headers and stalls mid-body, makes each command exit 2 with one message naming the endpoint
 * and the operation — never a hang. The peer is a fake (test/harness/silent-peer.ts): no real
 * component hangs on purpose. The deadlines are shortened through the documented environment
 * variables so each case takes about a second; the test timeout only turns a hang into a failure
 * and no assertion depends on elapsed time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetworkTimeoutError } from '../../src/core/errors.js';
import { createStreamsClient } from '../../src/streams/client.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { ShardReader } from '../../src/streams/reader.js';
import { runCliCapture, type CliResult } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startLocalS3 } from '../harness/s3.js';
import { startSilentPeer, type SilentPeer } from '../harness/silent-peer.js';

const ATTEMPTS = 2;
const ENV = {
  ...process.env,
  DYNAMODB_REPLICATOR_CONNECT_TIMEOUT: '500ms',
  DYNAMODB_REPLICATOR_IDLE_TIMEOUT: '500ms',
  DYNAMODB_REPLICATOR_REQUEST_TIMEOUT: '2s',
  AWS_MAX_ATTEMPTS: String(ATTEMPTS),
};
/** The same deadlines as library options, for the S3 store used directly. */
const SHORT = { connectTimeoutMs: 500, idleTimeoutMs: 500, maxAttempts: ATTEMPTS };
const S3_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** Far above the ~1 s each case needs with the deadlines above; without deadlines a case hangs. */
const HANG = { timeout: 120_000 };
const MODES = ['silent', 'stall'] as const;

/** Exit 2, one error line naming the peer's endpoint and the operation, no stack trace. */
function assertTimedOut(result: CliResult, peer: SilentPeer, operation: string | RegExp): void {
  assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
  assert.match(result.stderr, /^error: /);
  assert.ok(result.stderr.includes(peer.endpoint), `names ${peer.endpoint}: ${result.stderr}`);
  if (typeof operation === 'string')
    assert.ok(result.stderr.includes(operation), `names ${operation}: ${result.stderr}`);
  else assert.match(result.stderr, operation);
  assert.ok(result.stderr.includes(`timed out after ${ATTEMPTS} attempts`), result.stderr);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

async function run(argv: string[], env: Record<string, string | undefined> = ENV): Promise<CliResult> {
  return runCliCapture(argv, { env });
}

for (const mode of MODES) {
  test(`describe and scan against a ${mode} endpoint exit 2 naming it`, HANG, async () => {
    const peer = await startSilentPeer(mode);
    assertTimedOut(await run(['describe', `${peer.hostPort}/users`]), peer, 'DescribeTable on table "users"');
    assert.equal(peer.requests(), ATTEMPTS, 'one request per attempt, no more');
    assertTimedOut(await run(['scan', `${peer.endpoint}/users`]), peer, 'DescribeTable on table "users"');
    assert.equal(peer.requests(), 2 * ATTEMPTS);
  });
}

test('copy from or to a silent endpoint exits 2 naming it', HANG, async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  client.destroy();
  const peer = await startSilentPeer('silent');
  assertTimedOut(
    await run(['copy', `${peer.hostPort}/users`, `${endpoint}/${table}`]),
    peer,
    'DescribeTable on table "users"',
  );
  assertTimedOut(
    await run(['copy', `${endpoint}/${table}`, `${peer.hostPort}/copy`, '--create']),
    peer,
    'DescribeTable on table "copy"',
  );
  assert.equal(peer.requests(), 2 * ATTEMPTS);
});

for (const mode of MODES) {
  test(`replicate with a ${mode} source or replica exits 2 naming it`, HANG, async () => {
    const endpoint = await dynamoEndpoint();
    const client = dynamoClient(endpoint);
    const source = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    const replica = await createTestTable(client);
    client.destroy();
    const dir = await mkdtemp(path.join(tmpdir(), 'silent-peer-'));
    const peer = await startSilentPeer(mode);
    const common = ['--checkpoint', path.join(dir, 'checkpoint.json'), '--stop-when-idle', '1s'];
    assertTimedOut(
      await run(['replicate', `${peer.hostPort}/users`, `${endpoint}/${replica}`, ...common]),
      peer,
      'DescribeTable on table "users"',
    );
    assertTimedOut(
      await run(['replicate', `${endpoint}/${source}`, `${peer.hostPort}/users-replica`, ...common]),
      peer,
      'DescribeTable on table "users-replica"',
    );
    assert.equal(peer.requests(), 2 * ATTEMPTS);
  });

  test(`backup-table to a ${mode} S3 endpoint exits 2 naming it, not its credentials`, HANG, async () => {
    const endpoint = await dynamoEndpoint();
    const client = dynamoClient(endpoint);
    const source = await createTestTable(client);
    client.destroy();
    const peer = await startSilentPeer(mode);
    const result = await run(
      [
        'backup-table',
        `${endpoint}/${source}`,
        's3://backups/tables',
        '--s3-endpoint',
        `http://keeper:hunter2@${peer.hostPort}`,
      ],
      { ...ENV, S3_ACCESS_KEY_ID: S3_KEYS.accessKeyId, S3_SECRET_ACCESS_KEY: S3_KEYS.secretAccessKey },
    );
    assertTimedOut(
      result,
      peer,
      /S3 head s3:\/\/backups\/tables\/AWSDynamoDB\/[\w-]+\/manifest-summary\.json /,
    );
    assert.doesNotMatch(result.stderr, /keeper|hunter2/, 'no credentials from the endpoint URL');
    assert.ok(peer.requests() >= ATTEMPTS, `${peer.requests()} requests`);
  });
}

test('a deadline variable that is not a duration is a usage error naming it', async () => {
  const result = await run(['describe', 'localhost:1/users'], {
    ...ENV,
    DYNAMODB_REPLICATOR_IDLE_TIMEOUT: 'soon',
  });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'error: DYNAMODB_REPLICATOR_IDLE_TIMEOUT must be a duration such as 500ms, 5s or 1m, got "soon"\n',
  );
});

test(
  'a streamed S3 upload (lib-storage) to a peer that stops reading fails naming the endpoint',
  HANG,
  async () => {
    const peer = await startSilentPeer('silent');
    const store = new S3ObjectStore('backups', 'tables', {
      endpoint: peer.endpoint,
      credentials: S3_KEYS,
      network: SHORT,
    });
    // 6 MiB: more than the socket buffers take, so the upload itself stalls, not only the answer.
    const body = Readable.from([Buffer.alloc(6 * 1024 * 1024, 1)]);
    await assert.rejects(store.put('big.bin', body), (error: unknown) => {
      assert.ok(error instanceof NetworkTimeoutError, String(error));
      assert.match(
        error.message,
        /^S3 put s3:\/\/backups\/tables\/big\.bin at http:\/\/127\.0\.0\.1:\d+ timed out/,
      );
      assert.ok(error.message.includes(peer.endpoint));
      return true;
    });
    store.client.destroy();
  },
);

for (const mode of MODES) {
  test(`an S3 download from a ${mode} peer fails naming the endpoint`, HANG, async () => {
    const peer = await startSilentPeer(mode);
    const store = new S3ObjectStore('backups', 'tables', {
      endpoint: peer.endpoint,
      credentials: S3_KEYS,
      network: SHORT,
    });
    await assert.rejects(store.get('segment.json'), (error: unknown) => {
      assert.ok(error instanceof NetworkTimeoutError, String(error));
      assert.ok(
        error.message.startsWith(`S3 get s3://backups/tables/segment.json at ${peer.endpoint} timed out`),
      );
      return true;
    });
    store.client.destroy();
  });
}

test('a slow reader of an S3 download is not cut off by the idle deadline', HANG, async () => {
  // The real s3rver: the pauses are the reader's, not the server's.
  const s3 = await startLocalS3();
  const bucket = await s3.createBucket();
  const store = new S3ObjectStore(bucket, 'p', {
    endpoint: s3.endpoint,
    credentials: S3_KEYS,
    network: SHORT,
  });
  const data = Buffer.alloc(16 * 1024 * 1024, 7);
  await store.put('big', data);
  let bytes = 0;
  let pauses = 0;
  for await (const chunk of await store.getStream('big')) {
    bytes += (chunk as Buffer).length;
    // Three pauses of three idle deadlines each, with the socket held paused.
    if (pauses < 3) {
      pauses++;
      await sleep(1_500);
    }
  }
  assert.equal(bytes, data.length);
  assert.equal(pauses, 3);
  store.client.destroy();
});

test('a stream reader whose endpoint goes silent fails naming it and the shard', HANG, async () => {
  const peer = await startSilentPeer('silent');
  const streams = createStreamsClient({ kind: 'endpoint', endpoint: peer.endpoint }, { network: SHORT });
  const reader = new ShardReader(
    streams,
    'arn:stream',
    'shardId-1',
    { type: 'TRIM_HORIZON' },
    {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    },
  );
  await assert.rejects(reader.next(), (error: unknown) => {
    assert.ok(error instanceof NetworkTimeoutError, String(error));
    assert.ok(
      error.message.startsWith(
        `Reading shard shardId-1 at ${peer.endpoint} (region us-east-1): the endpoint timed out after ${ATTEMPTS} attempts`,
      ),
      error.message,
    );
    return true;
  });
  assert.equal(peer.requests(), 2 * ATTEMPTS, 'SDK attempts times reader attempts');
  streams.destroy();
});
