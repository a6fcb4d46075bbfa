import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChanges } from '../../src/replicate/plan.js';
import type { Change, EventName } from '../../src/core/change.js';
import { KeySchemaMismatchError, UsageError } from '../../src/core/errors.js';
import type { AttributeValue, Item, KeySchema } from '../../src/core/types.js';

const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };
let seq = 100;

function change(eventName: EventName, id: string, range?: number, extra: Partial<Change> = {}): Change {
  const keys = { id: { S: id } };
  return {
    eventName,
    keys,
    ...(eventName === 'REMOVE' ? {} : { newImage: { ...keys, range: { N: String(range) } } }),
    sequenceNumber: String(seq++),
    streamViewType: 'NEW_AND_OLD_IMAGES',
    ...extra,
  };
}

test('the last change of each key wins; writes are ordered by each key first record', () => {
  seq = 100;
  // The ten interleaved changes of issue 3.
  const changes = [
    change('INSERT', 'r1', 1),
    change('MODIFY', 'r1', 11),
    change('INSERT', 'r3', 1),
    change('INSERT', 'r2', 1),
    change('MODIFY', 'r2', 22),
    change('REMOVE', 'r1'),
    change('MODIFY', 'r3', 33),
    change('INSERT', 'r1', 1),
    change('MODIFY', 'r1', 2),
    change('REMOVE', 'r1'),
  ];
  const plan = planChanges(changes, { keySchema: SCHEMA });
  assert.deepEqual(plan.failures, []);
  assert.deepEqual(
    plan.writes.map((w) => [w.canonical, w.firstSequenceNumber, w.records, w.action]),
    [
      ['{"id":{"S":"r1"}}', '100', 6, { kind: 'delete' }],
      ['{"id":{"S":"r3"}}', '102', 2, { kind: 'put', item: { id: { S: 'r3' }, range: { N: '33' } } }],
      ['{"id":{"S":"r2"}}', '103', 2, { kind: 'put', item: { id: { S: 'r2' }, range: { N: '22' } } }],
    ],
  );
});

test('hash+range keys group by both attributes, whatever their order in the record', () => {
  const schema: KeySchema = { hash: { name: 'id', type: 'S' }, range: { name: 'range', type: 'N' } };
  const a: Change = {
    eventName: 'INSERT',
    keys: { id: { S: 'x' }, range: { N: '1' } },
    newImage: { range: { N: '1' }, id: { S: 'x' }, v: { S: 'a' } },
    sequenceNumber: '5',
  };
  const b: Change = {
    ...a,
    keys: { range: { N: '1' }, id: { S: 'x' } },
    newImage: { id: { S: 'x' }, range: { N: '1' }, v: { S: 'b' } },
    sequenceNumber: '6',
  };
  const c: Change = {
    ...a,
    keys: { id: { S: 'x' }, range: { N: '2' } },
    newImage: { id: { S: 'x' }, range: { N: '2' } },
    sequenceNumber: '7',
  };
  const plan = planChanges([a, b, c], { keySchema: schema });
  assert.equal(plan.writes.length, 2);
  assert.deepEqual(plan.writes[0]?.action, { kind: 'put', item: b.newImage });
  assert.equal(plan.writes[0]?.records, 2);
  assert.equal(plan.writes[1]?.canonical, '{"id":{"S":"x"},"range":{"N":"2"}}');
});

test('the first sequence number compares numerically, not as text', () => {
  const a = change('INSERT', 'k', 1, { sequenceNumber: '99' });
  const b = change('MODIFY', 'k', 2, { sequenceNumber: '100' });
  const plan = planChanges([b, a], { keySchema: SCHEMA });
  assert.equal(plan.writes[0]?.firstSequenceNumber, '99');
});

test('an image whose key differs fails only its key; an item over 400 KB is rejected', () => {
  seq = 1;
  const big = change('INSERT', 'big', 1);
  const huge: Change = { ...big, newImage: { id: { S: 'big' }, blob: { S: 'x'.repeat(410_000) } } };
  const wrongKey: Change = { ...change('INSERT', 'w', 1), newImage: { id: { S: 'other' } } };
  const noKey: Change = { ...change('INSERT', 'n', 1), newImage: { v: { S: 'x' } } };
  const fine = change('INSERT', 'ok', 1);
  const plan = planChanges([huge, wrongKey, noKey, fine], { keySchema: SCHEMA });
  assert.deepEqual(
    plan.writes.map((w) => w.canonical),
    ['{"id":{"S":"ok"}}'],
  );
  assert.equal(plan.failures.length, 2);
  assert.match(
    plan.failures[0]?.error ?? '',
    /new image has key \{"id":\{"S":"other"\}\}, but the record's key is \{"id":\{"S":"w"\}\}/,
  );
  assert.match(plan.failures[1]?.error ?? '', /new image: item has no key attribute "id"/);
  assert.equal(plan.rejected.length, 1);
  assert.equal(
    plan.rejected[0]?.error,
    'item {"id":{"S":"big"}} is 410009 bytes, over DynamoDB\'s limit of 409600 bytes (400 KB)',
  );
  assert.equal(plan.rejected[0]?.firstSequenceNumber, huge.sequenceNumber);
});

test("writes that break DynamoDB's item limits are rejected, each named with its key", () => {
  seq = 1;
  const schema: KeySchema = { hash: { name: 'id', type: 'S' }, range: { name: 'r', type: 'S' } };
  let deep: AttributeValue = { S: 'leaf' };
  for (let i = 0; i < 32; i++) deep = { M: { a: deep } };
  let veryDeep: AttributeValue = { S: 'leaf' };
  for (let i = 0; i < 20_000; i++) veryDeep = { L: [veryDeep] };
  let deepest: AttributeValue = { S: 'leaf' };
  for (let i = 0; i < 31; i++) deepest = { M: { a: deepest } };
  const put = (id: string, r: string, extra: Item = {}): Change => ({
    eventName: 'INSERT',
    keys: { id: { S: id }, r: { S: r } },
    newImage: { id: { S: id }, r: { S: r }, ...extra },
    sequenceNumber: String(seq++),
  });
  const remove = (id: string, r: string): Change => ({
    eventName: 'REMOVE',
    keys: { id: { S: id }, r: { S: r } },
    sequenceNumber: String(seq++),
  });
  const changes = [
    put('deep', '1', { d: deep }),
    put('very-deep', '1', { d: veryDeep }),
    put('names', '1', { '': { S: 'x' } }),
    put('nested-names', '1', { m: { M: { ok: { M: { '': { N: '1' } } } } } }),
    put('', '1'),
    put('x'.repeat(2049), '1'),
    put('long-sort', 'y'.repeat(1025)),
    remove('gone', ''),
    put('x'.repeat(2048), 'y'.repeat(1024), { d: deepest, m: { M: { k: { S: '' } } } }),
  ];
  const plan = planChanges(changes, { keySchema: schema });
  assert.deepEqual(plan.failures, []);
  assert.deepEqual(
    plan.writes.map((w) => w.firstSequenceNumber),
    ['9'],
  );
  assert.deepEqual(
    plan.rejected.map((r) => [
      r.firstSequenceNumber,
      r.error.replace(/x{2049}/, 'x*2049').replace(/y{1025}/, 'y*1025'),
    ]),
    [
      [
        '1',
        `item {"id":{"S":"deep"},"r":{"S":"1"}}: attribute "d" nests deeper than DynamoDB's limit of 32 levels`,
      ],
      [
        '2',
        `item {"id":{"S":"very-deep"},"r":{"S":"1"}}: attribute "d" nests deeper than DynamoDB's limit of 32 levels`,
      ],
      ['3', 'item {"id":{"S":"names"},"r":{"S":"1"}}: an attribute name is empty'],
      ['4', 'item {"id":{"S":"nested-names"},"r":{"S":"1"}}: attribute "m" holds a map with an empty key'],
      ['5', 'item {"id":{"S":""},"r":{"S":"1"}}: partition key attribute "id" is empty'],
      [
        '6',
        `item {"id":{"S":"x*2049"},"r":{"S":"1"}}: partition key attribute "id" is 2049 bytes, over DynamoDB's limit of 2048 bytes`,
      ],
      [
        '7',
        `item {"id":{"S":"long-sort"},"r":{"S":"y*1025"}}: sort key attribute "r" is 1025 bytes, over DynamoDB's limit of 1024 bytes`,
      ],
      ['8', 'item {"id":{"S":"gone"},"r":{"S":""}}: sort key attribute "r" is empty'],
    ],
  );
});

test('records whose keys do not fit the key schema refuse the whole batch', () => {
  const other = { ...change('INSERT', 'a', 1), keys: { pk: { S: 'a' } } };
  assert.throws(
    () => planChanges([change('INSERT', 'b', 1), other], { keySchema: SCHEMA }),
    KeySchemaMismatchError,
  );
  const extra = { ...change('INSERT', 'a', 1), keys: { id: { S: 'a' }, range: { N: '1' } } };
  assert.throws(
    () => planChanges([extra], { keySchema: SCHEMA }),
    /does not fit the key schema id \(S, hash\)/,
  );
  const wrongType = { ...change('INSERT', 'a', 1), keys: { id: { N: '1' } } };
  assert.throws(() => planChanges([wrongType], { keySchema: SCHEMA }), KeySchemaMismatchError);
});

test('a stream without new images is refused unless read-through is on', () => {
  const keysOnly: Change = {
    eventName: 'INSERT',
    keys: { id: { S: 'a' } },
    sequenceNumber: '1',
    streamViewType: 'KEYS_ONLY',
  };
  const removed: Change = {
    eventName: 'REMOVE',
    keys: { id: { S: 'b' } },
    sequenceNumber: '2',
    streamViewType: 'KEYS_ONLY',
  };
  assert.throws(
    () => planChanges([keysOnly], { keySchema: SCHEMA }),
    (e: unknown) => e instanceof UsageError && /stream view type KEYS_ONLY.*read-through/.test(e.message),
  );
  assert.throws(() => planChanges([removed], { keySchema: SCHEMA }), /KEYS_ONLY/);
  assert.throws(
    () =>
      planChanges([{ ...keysOnly, streamViewType: 'OLD_IMAGE', oldImage: { id: { S: 'a' } } }], {
        keySchema: SCHEMA,
      }),
    /OLD_IMAGE/,
  );
  const plan = planChanges([keysOnly, removed], { keySchema: SCHEMA, readThrough: true });
  assert.deepEqual(
    plan.writes.map((w) => w.action.kind),
    ['read', 'delete'],
  );
});

test('an empty batch plans nothing', () => {
  assert.deepEqual(planChanges([], { keySchema: SCHEMA }), { writes: [], failures: [], rejected: [] });
});
