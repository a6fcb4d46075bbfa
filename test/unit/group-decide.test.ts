// One test per row of docs/multi-active.md's rules: what a record of member "eu"'s stream means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Change } from '../../src/core/change.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { emptyCounters } from '../../src/replicate/group-direction.js';
import { groupPrometheusText } from '../../src/replicate/metrics.js';
import type { RunnerStats } from '../../src/replicate/runner.js';
import {
  decideRecord,
  handledBy,
  refusalOf,
  type GroupContext,
  type LocalMemo,
} from '../../src/replicate/group-decide.js';
import {
  dataHash,
  DEFAULT_GROUP_METADATA,
  formatStamp,
  parseStampText,
  stampedItem,
  tombstoneItem,
  type Stamp,
} from '../../src/replicate/group-stamp.js';

const NAMES = DEFAULT_GROUP_METADATA;
const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };
const CTX: GroupContext = { self: 'eu', names: NAMES, keySchema: SCHEMA, tombstoneTtlMs: 86_400_000 };
const T = 1_764_000_000_000;
const KEY = { id: { S: 'k' } };

function record(eventName: Change['eventName'], newImage?: Item, oldImage?: Item, time = T): Change {
  return {
    eventName,
    keys: KEY,
    ...(newImage ? { newImage } : {}),
    ...(oldImage ? { oldImage } : {}),
    sequenceNumber: '100',
    approximateCreationTime: time,
  };
}

function stamp(time: number, member: string, data: Item, base?: string): Stamp {
  return { version: `${time}.${member}`, ...(base ? { base } : {}), hash: dataHash(data) };
}

const US_DATA = { ...KEY, v: { S: 'from us' } };
const US = stamp(T - 5_000, 'us', US_DATA);
const US_ITEM = stampedItem(US_DATA, US, NAMES);

test('a new image without a stamp is a local write: sent stamped, based on the stamp it replaced', () => {
  const plan = decideRecord(record('MODIFY', { ...KEY, v: { S: 'mine' } }, US_ITEM), undefined, CTX);
  assert.equal(plan.kind, 'local');
  if (plan.kind !== 'local') return;
  assert.deepEqual(plan.stamp, {
    version: `${T}.eu`,
    base: US.version,
    hash: dataHash({ ...KEY, v: { S: 'mine' } }),
  });
  assert.deepEqual(plan.send, { ...KEY, v: { S: 'mine' }, [NAMES.stamp]: { S: formatStamp(plan.stamp) } });
});

test('an UpdateItem that kept the stamp (hash no longer matches) is local; its time is after the base', () => {
  const updated = { ...US_ITEM, n: { N: '1' } };
  const plan = decideRecord(record('MODIFY', updated, US_ITEM, T - 60_000), undefined, CTX);
  assert.equal(plan.kind, 'local');
  if (plan.kind !== 'local') return;
  assert.equal(plan.stamp.version, `${T - 5_000 + 1}.eu`); // the stream time is older than the base
  assert.equal(plan.stamp.base, US.version);
});

test('a PutItem of an item read earlier, with its old stamp, is local (its stamp is not newer)', () => {
  const newer = stamp(T - 1_000, 'ap', { ...KEY, v: { S: 'ap' } }, US.version);
  const plan = decideRecord(
    record('MODIFY', US_ITEM, stampedItem({ ...KEY, v: { S: 'ap' } }, newer, NAMES)),
    undefined,
    CTX,
  );
  assert.equal(plan.kind, 'local');
  if (plan.kind === 'local') assert.equal(plan.stamp.base, newer.version);
});

test('a stamped image newer than the one it replaced is an arrival: not sent, handled by the direction to its member', () => {
  const plan = decideRecord(record('INSERT', US_ITEM), undefined, CTX);
  assert.equal(plan.kind, 'arrived');
  if (plan.kind !== 'arrived') return;
  assert.deepEqual([plan.conflict, plan.repair, plan.ambiguous], [undefined, undefined, undefined]);
  assert.ok(handledBy(plan, 'us', 'eu', ['us', 'eu', 'ap']));
  assert.ok(!handledBy(plan, 'ap', 'eu', ['us', 'eu', 'ap']));
});

test('a DeleteItem is a local delete, sent as a tombstone that expires after the TTL', () => {
  const plan = decideRecord(record('REMOVE', undefined, US_ITEM), undefined, CTX);
  assert.equal(plan.kind, 'local');
  if (plan.kind !== 'local') return;
  assert.deepEqual(plan.memo, { stamp: plan.stamp, deleted: true });
  assert.deepEqual(plan.send[NAMES.expires], { N: String((T + 86_400_000) / 1000) });
});

test('a REMOVE of a tombstone is its expiry at or after the expiry time, and a local delete before it', () => {
  const ts = stamp(T, 'us', KEY);
  const tombstone = tombstoneItem(KEY, ts, T / 1000 + 3_600, NAMES);
  assert.equal(
    decideRecord(record('REMOVE', undefined, tombstone, T + 3_600_000), undefined, CTX).kind,
    'expired',
  );
  const early = decideRecord(record('REMOVE', undefined, tombstone, T + 60_000), undefined, CTX);
  assert.equal(early.kind, 'local');
  if (early.kind === 'local') assert.equal(early.stamp.base, ts.version);
});

test('a concurrent arrival over the member own higher local write: conflict, repair, and an ambiguous record', () => {
  const mine = { ...KEY, v: { S: 'mine' } };
  const memo: LocalMemo = { stamp: stamp(T, 'eu', mine), deleted: false };
  const lower = stamp(T - 1, 'us', US_DATA);
  const plan = decideRecord(record('MODIFY', stampedItem(US_DATA, lower, NAMES), mine), memo, CTX);
  assert.equal(plan.kind, 'arrived');
  if (plan.kind !== 'arrived') return;
  assert.deepEqual(plan.conflict, {
    key: '{"id":{"S":"k"}}',
    winner: memo.stamp.version,
    loser: lower.version,
    winnerDeleted: false,
    loserDeleted: false,
    member: 'eu',
  });
  assert.deepEqual(plan.repair, { item: stampedItem(mine, memo.stamp, NAMES), stamp: memo.stamp });
  assert.equal(plan.ambiguous, 'stamped-copy-over-local');
});

test('an arrival written on top of the member own write (its base) is no conflict', () => {
  const mine = { ...KEY, v: { S: 'mine' } };
  const memo: LocalMemo = { stamp: stamp(T, 'eu', mine), deleted: false };
  const after = stamp(T + 10, 'us', US_DATA, memo.stamp.version);
  const plan = decideRecord(record('MODIFY', stampedItem(US_DATA, after, NAMES), mine), memo, CTX);
  assert.ok(plan.kind === 'arrived' && plan.conflict === undefined && plan.repair === undefined);
});

test('a stamped write over unstamped data this member has no memory of is ambiguous; the arrival wins', () => {
  const plan = decideRecord(record('MODIFY', US_ITEM, { ...KEY, legacy: { S: 'x' } }), undefined, CTX);
  assert.ok(plan.kind === 'arrived' && plan.ambiguous === 'unknown-local-version' && !plan.repair);
});

test('the same record decided again from the same memory gets the same version (duplicates)', () => {
  const r = record('MODIFY', { ...KEY, v: { S: 'x' } }, US_ITEM);
  assert.deepEqual(decideRecord(r, undefined, CTX), decideRecord(r, undefined, CTX));
});

test('a refused send: same version is a duplicate, a later version of the same member superseded, a concurrent one a conflict', () => {
  const sent = stamp(T, 'eu', US_DATA);
  const at = (s: Stamp) => stampedItem(US_DATA, s, NAMES);
  assert.equal(refusalOf(sent, false, at(sent), 'k', 'us', NAMES).kind, 'duplicate');
  assert.equal(refusalOf(sent, false, at(stamp(T + 1, 'eu', US_DATA)), 'k', 'us', NAMES).kind, 'superseded');
  assert.equal(
    refusalOf(sent, false, at(stamp(T + 1, 'ap', US_DATA, sent.version)), 'k', 'us', NAMES).kind,
    'superseded',
  );
  const r = refusalOf(sent, false, at(stamp(T + 1, 'ap', US_DATA)), 'k', 'us', NAMES);
  assert.equal(r.kind, 'conflict');
});

test('stamps round-trip and compare as DynamoDB compares strings', () => {
  const s = stamp(T, 'eu-west-1', US_DATA, `${T - 1}.us`);
  assert.deepEqual(parseStampText(formatStamp(s)), s);
  assert.ok(formatStamp(stamp(T, 'ab', US_DATA)) < formatStamp(stamp(T, 'ab-c', US_DATA)));
  assert.equal(parseStampText('garbage'), undefined);
});

test('group metrics: one sample per direction, ambiguous records by reason', () => {
  const counters = { ...emptyCounters(), sent: 5, conflicts: 2 };
  counters.ambiguous['stamped-copy-over-local'] = 1;
  const stats = { records: 7, lagMs: 0, failedAttempts: 0 } as RunnerStats;
  const text = groupPrometheusText([{ name: 'eu-to-us', counters, stats: () => stats }]);
  assert.match(text, /^dynamodb_replicator_group_sent_total\{direction="eu-to-us"\} 5$/m);
  assert.match(text, /^dynamodb_replicator_group_conflicts_total\{direction="eu-to-us"\} 2$/m);
  assert.match(text, /^dynamodb_replicator_records_total\{direction="eu-to-us"\} 7$/m);
  assert.match(
    text,
    /^dynamodb_replicator_group_ambiguous_records_total\{direction="eu-to-us",reason="stamped-copy-over-local"\} 1$/m,
  );
  assert.match(
    text,
    /^dynamodb_replicator_group_ambiguous_records_total\{direction="eu-to-us",reason="unknown-local-version"\} 0$/m,
  );
});
