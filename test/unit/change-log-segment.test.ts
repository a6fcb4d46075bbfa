import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { Change } from '../../src/core/change.js';
import { InvalidDataError } from '../../src/core/errors.js';
import {
  compareLogged,
  decodeSegment,
  encodeSegment,
  planSegments,
  segmentNameTime,
} from '../../src/backup/change-log.js';
import { folderSpan, hourFolder } from '../../src/backup/log-manifest.js';

const T = Date.UTC(2026, 10, 27, 9, 59, 58);

function change(seq: string, time: number, extra: Partial<Change> = {}): Change {
  return {
    eventName: 'MODIFY',
    keys: { id: { S: 'a' }, n: { N: '12345678901234567890123456789012345678' } },
    newImage: {
      id: { S: 'a' },
      n: { N: '12345678901234567890123456789012345678' },
      b: { B: new Uint8Array([0, 255, 1]) },
      bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
      ns: { NS: ['1', '0.000000000000000000000000000000000001'] },
      m: { M: { l: { L: [{ NULL: true }, { BOOL: false }, { S: '' }] } } },
    },
    sequenceNumber: seq,
    shardId: 'shardId-0001',
    approximateCreationTime: time,
    ...extra,
  };
}

test('a segment round-trips every field byte for byte', async () => {
  const changes = [change('100', T), change('101', T + 1, { eventName: 'REMOVE', newImage: undefined })];
  const [segment, ...rest] = planSegments(changes);
  assert.equal(rest.length, 0);
  assert.ok(segment);
  assert.equal(segment.header.count, 2);
  assert.equal(
    segment.name,
    `changes/2026/11/27/09/${String(T).padStart(13, '0')}-shardId-0001-100-101.jsonl.gz`,
  );
  assert.equal(segmentNameTime(segment.name), T);
  const decoded = await decodeSegment(await encodeSegment(segment), segment.name);
  assert.deepEqual(decoded, [
    { ...changes[0] },
    {
      eventName: 'REMOVE',
      keys: changes[1]?.keys,
      sequenceNumber: '101',
      shardId: 'shardId-0001',
      approximateCreationTime: T + 1,
    },
  ]);
});

test('a batch spanning an hour boundary becomes one segment per hour; names are deterministic', () => {
  const changes = [change('9', T + 3000), change('7', T), change('8', T + 2500)];
  const a = planSegments(changes).map((s) => s.name);
  const b = planSegments([...changes].reverse()).map((s) => s.name);
  assert.deepEqual(a, b);
  assert.equal(a.length, 2);
  assert.match(a[0] ?? '', /^changes\/2026\/11\/27\/09\/.*-7-7\.jsonl\.gz$/);
  assert.match(a[1] ?? '', /^changes\/2026\/11\/27\/10\/.*-8-9\.jsonl\.gz$/);
});

test('truncated, foreign and miscounted segments are clear errors', async () => {
  const [segment] = planSegments([change('1', T), change('2', T)]);
  assert.ok(segment);
  const bytes = await encodeSegment(segment);
  await assert.rejects(decodeSegment(bytes.subarray(0, bytes.length - 10), 'x.jsonl.gz'), (e: unknown) => {
    assert.ok(e instanceof InvalidDataError);
    assert.match(e.message, /x\.jsonl\.gz is truncated or corrupt/);
    return true;
  });
  await assert.rejects(decodeSegment(gzipSync('{"Item":{}}\n'), 'y'), /y is not a change log segment/);
  const text = (await import('node:zlib')).gunzipSync(bytes).toString('utf8').split('\n');
  const shortened = gzipSync(text.slice(0, 2).join('\n') + '\n');
  await assert.rejects(decodeSegment(shortened, 'z'), /z is truncated: header says 2 changes, found 1/);
});

test('changes order by creation time, then sequence number', () => {
  const logged = (seq: string, t: number) => ({
    ...change(seq, t),
    shardId: 's',
    approximateCreationTime: t,
  });
  const sorted = [logged('30', 2000), logged('9', 1000), logged('10', 1000)].sort(compareLogged);
  assert.deepEqual(
    sorted.map((c) => c.sequenceNumber),
    ['9', '10', '30'],
  );
});

test('time folders and their spans', () => {
  assert.equal(hourFolder(T), '2026/11/27/09');
  assert.deepEqual(folderSpan([2026, 11, 27, 9]), [Date.UTC(2026, 10, 27, 9), Date.UTC(2026, 10, 27, 10)]);
  assert.deepEqual(folderSpan([2026, 12]), [Date.UTC(2026, 11, 1), Date.UTC(2027, 0, 1)]);
  assert.deepEqual(folderSpan([2026]), [Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)]);
});
