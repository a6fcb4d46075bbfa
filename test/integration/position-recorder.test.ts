/**
 * The backfill's PositionRecorder reads the stream through ShardReader: its retries, error
 * translation and gap detection. The fault proxy injects what DynamoDB Local never does within a
 * test (an expired iterator, a trimmed position) and a GetRecords that keeps failing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/core/errors.js';
import { PositionRecorder } from '../../src/replicate/backfill.js';
import { StreamGapError } from '../../src/streams/reader.js';
import { waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../harness/fault-proxy.js';
import { streamArnOf } from '../harness/stream-capture.js';

/**
 * A recorder on a fresh table's stream, read through a proxy that answers GetRecords with `fault`
 * (`times` at most): it stops on its own, and finish() throws what `expected` accepts.
 */
async function assertRecorderFails(
  fault: Fault,
  times: number | undefined,
  expected: (error: unknown) => boolean,
): Promise<FaultProxy> {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  const proxy = await startFaultProxy(endpoint);
  try {
    const recorder = await PositionRecorder.start(
      streamsClient(proxy.endpoint),
      await streamArnOf(client, table),
      { pollMs: 10, polling: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } } },
    );
    proxy.setRules([{ operation: 'GetRecords', fault, ...(times !== undefined ? { times } : {}) }]);
    await waitFor(() => Promise.resolve(recorder.failed), 30_000, 'the recorder to stop on the fault');
    await assert.rejects(recorder.finish(), expected);
    return proxy;
  } finally {
    await proxy.stop();
  }
}

// Taken again, LATEST would start after whatever changed in between: those changes would be lost.
test('an iterator that expires before its shard has a new record is a gap, never a LATEST taken again', async () => {
  const proxy = await assertRecorderFails(
    { kind: 'stream-error', error: 'ExpiredIteratorException' },
    1,
    (error) => error instanceof StreamGapError && /expired before a record was read/.test(error.message),
  );
  assert.equal(proxy.counts['GetRecords:stream-error'], 1);
});

test('a trimmed position is a gap', async () => {
  await assertRecorderFails(
    { kind: 'stream-error', error: 'TrimmedDataAccessException' },
    1,
    (error) => error instanceof StreamGapError && /TrimmedDataAccessException/.test(error.message),
  );
});

test('GetRecords failing every attempt: a ServiceError naming the shard, not the raw SDK error', async () => {
  await assertRecorderFails(
    { kind: 'status', status: 500 },
    undefined,
    (error) =>
      error instanceof ServiceError &&
      /^Reading shard \S+ at http:\/\/127\.0\.0\.1:\d+ \(region [^)]+\) failed after 2 attempts/.test(
        error.message,
      ),
  );
});
