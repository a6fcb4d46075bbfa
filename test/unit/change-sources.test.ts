import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  changeFromLambdaRecord,
  changeFromSdkRecord,
  changesFromLambdaEvent,
  readLambdaBatch,
  type LambdaStreamRecord,
} from '../../src/core/change-sources.js';
import { InvalidDataError } from '../../src/core/errors.js';

function lambdaRecord(
  overrides: Partial<LambdaStreamRecord> = {},
  ddb: Record<string, unknown> = {},
): LambdaStreamRecord {
  return {
    eventID: 'e1',
    eventName: 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_700_000_000,
      Keys: { id: { S: 'record-1' } },
      NewImage: {
        id: { S: 'record-1' },
        big: { N: '12345678901234567890123456789012345678' },
        bin: { B: 'AAEC/w==' },
        bs: { BS: ['AQ==', 'Ag=='] },
        m: { M: { inner: { B: 'AP8=' } } },
        l: { L: [{ B: 'Zg==' }, { N: '1' }] },
      },
      OldImage: { id: { S: 'record-1' }, big: { N: '1' } },
      SequenceNumber: '400000000000000000001',
      SizeBytes: 88,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...ddb,
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/src/stream/2026-01-01T00:00:00.000',
    ...overrides,
  };
}

test('a Lambda record becomes a change with typed images, exact numbers and bytes', () => {
  const c = changeFromLambdaRecord(lambdaRecord(), 0);
  assert.equal(c.eventName, 'MODIFY');
  assert.deepEqual(c.keys, { id: { S: 'record-1' } });
  assert.deepEqual(c.newImage?.big, { N: '12345678901234567890123456789012345678' });
  assert.deepEqual(c.newImage?.bin, { B: new Uint8Array([0, 1, 2, 255]) });
  assert.deepEqual(c.newImage?.bs, { BS: [new Uint8Array([1]), new Uint8Array([2])] });
  assert.deepEqual(c.newImage?.m, { M: { inner: { B: new Uint8Array([0, 255]) } } });
  assert.deepEqual(c.newImage?.l, { L: [{ B: new Uint8Array([0x66]) }, { N: '1' }] });
  assert.deepEqual(c.oldImage, { id: { S: 'record-1' }, big: { N: '1' } });
  assert.equal(c.sequenceNumber, '400000000000000000001');
  assert.equal(c.approximateCreationTime, 1_700_000_000_000);
  assert.equal(c.streamViewType, 'NEW_AND_OLD_IMAGES');
  assert.equal(c.eventId, 'e1');
  assert.equal(c.sizeBytes, 88);
  assert.equal(c.shardId, undefined);
});

test('fractional and missing creation times', () => {
  const frac = changeFromLambdaRecord(
    lambdaRecord({}, { ApproximateCreationDateTime: 1_700_000_000.9995 }),
    0,
  );
  assert.equal(frac.approximateCreationTime, 1_700_000_000_999);
  const missing = changeFromLambdaRecord(lambdaRecord({}, { ApproximateCreationDateTime: undefined }), 0);
  assert.equal(missing.approximateCreationTime, undefined);
  assert.equal('approximateCreationTime' in missing, false);
});

test('a REMOVE record of a KEYS_ONLY stream needs no images', () => {
  const c = changeFromLambdaRecord(
    lambdaRecord(
      { eventName: 'REMOVE' },
      { NewImage: undefined, OldImage: undefined, StreamViewType: 'KEYS_ONLY' },
    ),
    0,
  );
  assert.equal(c.eventName, 'REMOVE');
  assert.equal(c.newImage, undefined);
  assert.equal(c.streamViewType, 'KEYS_ONLY');
});

function assertInvalid(event: unknown, pattern: RegExp): void {
  assert.throws(
    () => changesFromLambdaEvent(event),
    (e: unknown) => e instanceof InvalidDataError && pattern.test(e.message),
  );
}

test('malformed events are refused naming the record and the problem', () => {
  assertInvalid(null, /not a DynamoDB stream event/);
  assertInvalid({}, /Records array/);
  assertInvalid({ Records: 'x' }, /Records array/);
  const ok = lambdaRecord();
  assertInvalid({ Records: [ok, 'junk'] }, /^stream record 1: expected an object/);
  assertInvalid(
    { Records: [ok, lambdaRecord({ eventName: 'UPSERT' })] },
    /stream record 1 \(eventID e1\): eventName must be INSERT, MODIFY or REMOVE, got "UPSERT"/,
  );
  assertInvalid(
    { Records: [lambdaRecord({ dynamodb: undefined })] },
    /stream record 0 .*dynamodb must be an object/,
  );
  assertInvalid({ Records: [lambdaRecord({}, { Keys: undefined })] }, /dynamodb\.Keys is missing/);
  assertInvalid({ Records: [lambdaRecord({}, { Keys: {} })] }, /dynamodb\.Keys is empty/);
  assertInvalid(
    { Records: [lambdaRecord({}, { Keys: { id: 'plain' } })] },
    /stream record 0 .*dynamodb\.Keys: item\.id: expected an object with one type key/,
  );
  assertInvalid(
    { Records: [lambdaRecord({}, { NewImage: { id: { S: 'a' }, n: { N: 12 } } })] },
    /dynamodb\.NewImage: item\.n: N must be a string/,
  );
  assertInvalid(
    { Records: [lambdaRecord({}, { NewImage: { id: { S: 'a' }, b: { B: '***' } } })] },
    /dynamodb\.NewImage: item\.b: .*not base64/,
  );
  assertInvalid(
    { Records: [lambdaRecord({}, { SequenceNumber: undefined })] },
    /SequenceNumber must be a decimal string, got nothing \(the field is missing\)/,
  );
  assertInvalid(
    { Records: [lambdaRecord({}, { SequenceNumber: '12a' })] },
    /SequenceNumber must be a decimal string/,
  );
  assertInvalid(
    { Records: [lambdaRecord({}, { ApproximateCreationDateTime: 'yesterday' })] },
    /ApproximateCreationDateTime must be a non-negative number/,
  );
  assertInvalid(
    { Records: [lambdaRecord({}, { ApproximateCreationDateTime: -1 })] },
    /ApproximateCreationDateTime/,
  );
  assertInvalid({ Records: [lambdaRecord({}, { StreamViewType: 'ALL' })] }, /StreamViewType must be/);
  assertInvalid(
    { Records: [lambdaRecord({}, { NewImage: undefined })] },
    /MODIFY record of a NEW_AND_OLD_IMAGES stream has no dynamodb\.NewImage/,
  );
  assertInvalid({ Records: [lambdaRecord({}, { SizeBytes: -3 })] }, /SizeBytes/);
});

test('an empty event has no changes', () => {
  assert.deepEqual(changesFromLambdaEvent({ Records: [] }), []);
});

test('an SDK GetRecords record keeps the Date to the millisecond and the shard', () => {
  const c = changeFromSdkRecord(
    {
      eventID: 'x',
      eventName: 'INSERT',
      dynamodb: {
        ApproximateCreationDateTime: new Date(1_700_000_000_123),
        Keys: { id: { S: 'a' } },
        NewImage: { id: { S: 'a' }, b: { B: new Uint8Array([9]) } },
        SequenceNumber: '000100',
        SizeBytes: 10,
        StreamViewType: 'NEW_IMAGE',
      },
    },
    0,
    'shardId-1',
  );
  assert.equal(c.approximateCreationTime, 1_700_000_000_123);
  assert.equal(c.shardId, 'shardId-1');
  assert.deepEqual(c.newImage, { id: { S: 'a' }, b: { B: new Uint8Array([9]) } });
  assert.equal(c.sequenceNumber, '000100');
  assert.throws(
    () =>
      changeFromSdkRecord(
        {
          eventName: 'INSERT',
          dynamodb: { Keys: { id: { S: 'a' } }, SequenceNumber: '1', StreamViewType: 'NEW_IMAGE' },
        },
        3,
      ),
    /stream record 3: INSERT record of a NEW_IMAGE stream has no dynamodb\.NewImage/,
  );
  assert.throws(
    () =>
      changeFromSdkRecord(
        {
          eventName: 'INSERT',
          dynamodb: {
            ApproximateCreationDateTime: new Date(NaN),
            Keys: { id: { S: 'a' } },
            SequenceNumber: '1',
          },
        },
        0,
      ),
    /not a valid date/,
  );
});

describe('readLambdaBatch', () => {
  const arn = lambdaRecord().eventSourceARN as string;
  const at = (seq: string, overrides: Partial<LambdaStreamRecord> = {}, ddb: Record<string, unknown> = {}) =>
    lambdaRecord(overrides, { SequenceNumber: seq, ...ddb });

  test('one stream, strictly increasing sequence numbers (compared as decimals, not Numbers)', () => {
    // 2^53 + 1 and 2^53 + 2 are the same Number: a Number comparison would call them out of order.
    const batch = readLambdaBatch({
      Records: [at('9007199254740993'), at('9007199254740994'), at('10000000000000000000000')],
    });
    assert.deepEqual(
      batch.changes.map((c) => c.sequenceNumber),
      ['9007199254740993', '9007199254740994', '10000000000000000000000'],
    );
    assert.deepEqual(batch.rejected, []);
    assert.equal(batch.streamArn, arn);
    assert.deepEqual(readLambdaBatch({ Records: [] }), { changes: [], rejected: [] });
  });

  test('out of order or repeated sequence numbers refuse the batch, naming both records', () => {
    assert.throws(() => readLambdaBatch({ Records: [at('9007199254740994'), at('9007199254740993')] }), {
      name: 'InvalidDataError',
      message:
        "stream record 1 has sequence number 9007199254740993, not after record 0's 9007199254740994: a batch's records must be in stream order",
    });
    assert.throws(
      () => readLambdaBatch({ Records: [at('5'), at('5')] }),
      /record 1 has sequence number 5, not after record 0's 5/,
    );
  });

  test('two event sources refuse the batch', () => {
    const other = arn.replace('table/src/', 'table/dst/');
    assert.throws(() => readLambdaBatch({ Records: [at('1'), at('2', { eventSourceARN: other })] }), {
      name: 'InvalidDataError',
      message: `the event mixes 2 event sources (${arn}, ${other}): a batch must come from one stream`,
    });
  });

  test('an image DynamoDB could not hold is a rejected record, with its key and sequence number', () => {
    let deep: unknown = { S: 'x' };
    for (let i = 0; i < 20_000; i++) deep = { M: { a: deep } };
    const batch = readLambdaBatch({
      Records: [
        at('1'),
        at('2', { eventID: 'deep' }, { NewImage: { id: { S: 'record-1' }, deep } }),
        at('3'),
      ],
    });
    assert.deepEqual(
      batch.changes.map((c) => c.sequenceNumber),
      ['1', '3'],
    );
    assert.deepEqual(batch.rejected, [
      {
        index: 1,
        sequenceNumber: '2',
        key: '{"id":{"S":"record-1"}}',
        error: `stream record 1 (eventID deep): dynamodb.NewImage: attribute "deep" nests deeper than DynamoDB's limit of 32 levels`,
      },
    ]);
    // Rejected records still count for the order rule.
    assert.throws(
      () => readLambdaBatch({ Records: [at('2', {}, { NewImage: { '': { S: 'x' } } }), at('1')] }),
      /record 1 has sequence number 1, not after record 0's 2/,
    );
  });
});

describe('empty maps sent without their type (DynamoDB Local 3.x stream images)', () => {
  const untyped = () => ({
    id: { S: 'k' },
    top: {},
    m: { M: { a: {}, b: { M: { c: {} } }, s: { S: '' } } },
    l: { L: [{}, { L: [{}, { L: [] }] }, { NULL: true }] },
  });
  const typed = {
    id: { S: 'k' },
    top: { M: {} },
    m: { M: { a: { M: {} }, b: { M: { c: { M: {} } } }, s: { S: '' } } },
    l: { L: [{ M: {} }, { L: [{ M: {} }, { L: [] }] }, { NULL: true }] },
  };

  test('GetRecords images: every `{}` becomes `{"M":{}}`, nothing else changes', () => {
    const change = changeFromSdkRecord(
      {
        eventName: 'MODIFY',
        dynamodb: {
          Keys: { id: { S: 'k' } },
          NewImage: untyped(),
          OldImage: untyped(),
          SequenceNumber: '1',
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      },
      0,
    );
    assert.deepEqual(change.newImage, typed);
    assert.deepEqual(change.oldImage, typed);
  });

  test('Lambda records: the same, before the image is validated', () => {
    const change = changeFromLambdaRecord(
      lambdaRecord({}, { NewImage: untyped(), OldImage: untyped(), StreamViewType: 'NEW_AND_OLD_IMAGES' }),
      0,
    );
    assert.deepEqual(change.newImage, typed);
    assert.deepEqual(change.oldImage, typed);
  });
});
