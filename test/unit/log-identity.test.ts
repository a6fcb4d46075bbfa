import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogIdentityError } from '../../src/core/errors.js';
import { describeOwner, keyAttributesOf, sameOwner, segmentCheck } from '../../src/backup/log-identity.js';
import type { LoggedChange, SegmentHeader } from '../../src/backup/change-log.js';

const users = { table: 'users', keySchema: { hash: { name: 'id', type: 'S' as const } } };

test('owners are the same table when they agree wherever both say something', () => {
  assert.equal(sameOwner(users, { table: 'users' }), true);
  assert.equal(sameOwner(users, { keyAttributes: [{ name: 'id', type: 'S' }] }), true);
  assert.equal(sameOwner(users, { table: 'orders' }), false);
  assert.equal(sameOwner(users, { keyAttributes: [{ name: 'id', type: 'N' }] }), false);
  // Roles are compared only when both sides know them.
  const pair = { hash: { name: 'a', type: 'S' as const }, range: { name: 'b', type: 'N' as const } };
  const swapped = { hash: { name: 'b', type: 'N' as const }, range: { name: 'a', type: 'S' as const } };
  assert.equal(
    sameOwner({ keySchema: pair }, { keyAttributes: keyAttributesOf({ b: { N: '1' }, a: { S: 'x' } }) }),
    true,
  );
  assert.equal(sameOwner({ keySchema: pair }, { keySchema: swapped }), false);
  assert.equal(describeOwner(users), 'table "users", hash id (S), no range key');
  assert.equal(
    describeOwner({ table: 't', keyAttributes: keyAttributesOf({ b: { N: '1' }, a: { S: 'x' } }) }),
    'table "t", key attributes a (S), b (N)',
  );
});

test('a segment of another table, or with changes of another key, is refused by name', () => {
  const header = { table: 'users' } as SegmentHeader;
  const change = (keys: LoggedChange['keys']) =>
    ({
      eventName: 'REMOVE',
      keys,
      sequenceNumber: '1',
      shardId: 's',
      approximateCreationTime: 0,
    }) as LoggedChange;
  const check = segmentCheck(users, 'log');
  check({ header, changes: [change({ id: { S: 'a' } })] }, 'seg');
  check({ header: {} as SegmentHeader, changes: [change({ id: { S: 'a' } })] }, 'seg');
  assert.throws(
    () => check({ header: { table: 'orders' } as SegmentHeader, changes: [] }, 'seg'),
    (e: unknown) =>
      e instanceof LogIdentityError &&
      e.message ===
        'log/seg records table "orders", but the log belongs to table "users", hash id (S), no range key',
  );
  assert.throws(
    () => check({ header, changes: [change({ id: { S: 'a' } }), change({ pk: { N: '1' } })] }, 'seg'),
    /log\/seg: change s\/1 has key attributes pk \(N\), but the log belongs to table "users"/,
  );
  // An empty log checks nothing.
  segmentCheck(undefined, 'log')(
    { header: { table: 'x' } as SegmentHeader, changes: [change({ q: { B: new Uint8Array(1) } })] },
    'seg',
  );
});
