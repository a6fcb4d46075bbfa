import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import type { Env } from '../../src/lambda/config.js';
import { isGroupMode, readGroupReplicateConfig } from '../../src/lambda/group-config.js';

const BASE: Env = {
  AWS_REGION: 'us-east-1',
  GroupMemberId: 'us',
  GroupMembers: JSON.stringify([
    { id: 'eu', table: 'users', region: 'eu-west-1' },
    { id: 'ap', table: 'users', region: 'ap-southeast-2', roleArn: 'arn:aws:iam::123456789012:role/writer' },
  ]),
  GroupConflictLog: 's3://ops/users-conflicts',
};

function configError(env: Env, pattern: RegExp): void {
  assert.throws(
    () => readGroupReplicateConfig(env),
    (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
  );
}

test('group mode: the other members with ids, defaults for metadata, tombstone TTL and concurrency', () => {
  assert.equal(isGroupMode(BASE), true);
  assert.equal(isGroupMode({ ReplicaTable: 'users' }), false);
  const c = readGroupReplicateConfig(BASE);
  assert.equal(c.memberId, 'us');
  assert.deepEqual(
    c.others.map((m) => [m.id, m.label, m.roleArn]),
    [
      ['eu', 'eu-west-1/users', undefined],
      ['ap', 'ap-southeast-2/users', 'arn:aws:iam::123456789012:role/writer'],
    ],
  );
  assert.deepEqual(c.metadata, { stamp: 'rep:v', expires: 'rep:ttl' });
  assert.equal(c.tombstoneTtlMs, 172_800_000);
  assert.equal(c.concurrency, 8);
  assert.equal(c.conflictLog, 's3://ops/users-conflicts');
  const custom = readGroupReplicateConfig({
    ...BASE,
    GroupMetadataAttributes: 'v_, ttl_',
    GroupTombstoneTtlSeconds: '3600',
  });
  assert.deepEqual(custom.metadata, { stamp: 'v_', expires: 'ttl_' });
  assert.equal(custom.tombstoneTtlMs, 3_600_000);
});

test('group mode: bad configuration names the variable', () => {
  configError({ ...BASE, GroupMemberId: 'u s' }, /^GroupMemberId: member id "u s" is not usable/);
  configError({ ...BASE, GroupMembers: undefined }, /^GroupMembers is not set/);
  configError({ ...BASE, GroupMembers: '[]' }, /^GroupMembers lists no member/);
  configError({ ...BASE, GroupMembers: '{"id":"eu"}' }, /^GroupMembers must be a JSON list/);
  configError({ ...BASE, GroupMembers: '[{"table":"users"}]' }, /^GroupMembers\[0\]\.id must be a member id/);
  configError(
    { ...BASE, GroupMembers: '[{"id":"us","table":"users"}]' },
    /^GroupMembers\[0\]\.id is "us", this member's own id/,
  );
  configError(
    { ...BASE, GroupMembers: '[{"id":"eu","table":"aaa"},{"id":"eu","table":"bbb"}]' },
    /^GroupMembers\[1\]\.id "eu" is given to two members/,
  );
  configError(
    { ...BASE, GroupMembers: '[{"id":"eu","table":"users","tabel":"x"}]' },
    /^GroupMembers\[0\] has an unknown field "tabel"/,
  );
  configError({ ...BASE, GroupConflictLog: undefined }, /^GroupConflictLog is not set/);
  configError(
    { ...BASE, GroupMetadataAttributes: 'v' },
    /^GroupMetadataAttributes must be two different names/,
  );
  configError(
    { ...BASE, GroupMetadataAttributes: 'v,v' },
    /^GroupMetadataAttributes must be two different names/,
  );
  configError(
    { ...BASE, GroupTombstoneTtlSeconds: '10' },
    /^GroupTombstoneTtlSeconds must be a whole number from 60/,
  );
});
