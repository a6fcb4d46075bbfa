import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/core/errors.js';
import { resolveMembers, type MembersInput } from '../../src/core/regional-members.js';
import {
  logicalOutput,
  memberInput,
  requestTables,
  routeOf,
  tableNameMap,
} from '../../src/core/regional-routing.js';

const names = tableNameMap([
  ['users', 'users-eu'],
  ['__proto__', 'proto-eu'],
]);

describe('routeOf', () => {
  it('routes reads to any member, writes to the write member, and nothing else', () => {
    const reads = [
      'GetItem',
      'BatchGetItem',
      'Query',
      'Scan',
      'TransactGetItems',
      'DescribeTable',
      'DescribeTimeToLive',
    ];
    const writes = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'];
    assert.deepEqual(
      reads.map(routeOf),
      reads.map(() => 'read'),
    );
    assert.deepEqual(
      writes.map(routeOf),
      writes.map(() => 'write'),
    );
    for (const op of ['ExecuteStatement', 'CreateTable', 'DeleteTable', 'ListTables', 'UpdateTable'])
      assert.equal(routeOf(op), undefined, op);
  });
});

describe('memberInput / logicalOutput', () => {
  it('maps TableName; unmapped names and ARNs pass unchanged; the caller input is not modified', () => {
    const input = { TableName: 'users', Key: { id: { S: '1' } } };
    assert.deepEqual(memberInput('GetItem', input, names), {
      TableName: 'users-eu',
      Key: { id: { S: '1' } },
    });
    assert.equal(input.TableName, 'users');
    assert.deepEqual(memberInput('Query', { TableName: 'orders' }, names), { TableName: 'orders' });
    const arn = 'arn:aws:dynamodb:eu-west-1:123456789012:table/users';
    assert.deepEqual(memberInput('Scan', { TableName: arn }, names), { TableName: arn });
  });

  it('maps RequestItems keys of batches both ways, __proto__ included', () => {
    const input = {
      RequestItems: Object.fromEntries([
        ['users', { Keys: [{ id: { S: '1' } }] }],
        ['__proto__', { Keys: [{ id: { S: '2' } }] }],
      ]),
    };
    const sent = memberInput('BatchGetItem', input, names) as { RequestItems: Record<string, unknown> };
    assert.deepEqual(Object.keys(sent.RequestItems), ['users-eu', 'proto-eu']);
    const answer = {
      $metadata: { httpStatusCode: 200 },
      Responses: { 'users-eu': [{ id: { S: '1' } }], 'proto-eu': [] },
      UnprocessedKeys: { 'proto-eu': { Keys: [{ id: { S: '2' } }] } },
      ConsumedCapacity: [{ TableName: 'users-eu', CapacityUnits: 0.5 }],
    };
    const back = logicalOutput('BatchGetItem', answer, names);
    assert.deepEqual(Object.keys(back.Responses), ['users', '__proto__']);
    assert.ok(Object.hasOwn(back.UnprocessedKeys, '__proto__'));
    assert.deepEqual(back.ConsumedCapacity, [{ TableName: 'users', CapacityUnits: 0.5 }]);
    assert.deepEqual(back.$metadata, { httpStatusCode: 200 });

    const write = memberInput('BatchWriteItem', { RequestItems: { users: [] } }, names);
    assert.deepEqual(write, { RequestItems: { 'users-eu': [] } });
    const written = logicalOutput('BatchWriteItem', { UnprocessedItems: { 'users-eu': [] } }, names);
    assert.deepEqual(written, { UnprocessedItems: { users: [] } });
  });

  it('maps every table of a transaction', () => {
    const tx = memberInput(
      'TransactWriteItems',
      {
        TransactItems: [
          { Put: { TableName: 'users', Item: {} } },
          { Update: { TableName: 'users', Key: {} } },
          { Delete: { TableName: 'other', Key: {} } },
          { ConditionCheck: { TableName: 'users', Key: {} } },
        ],
      },
      names,
    ) as { TransactItems: Record<string, { TableName: string }>[] };
    assert.deepEqual(
      tx.TransactItems.map((t) => Object.values(t)[0]?.TableName),
      ['users-eu', 'users-eu', 'other', 'users-eu'],
    );
    const get = memberInput(
      'TransactGetItems',
      { TransactItems: [{ Get: { TableName: 'users', Key: {} } }] },
      names,
    );
    assert.deepEqual(get, { TransactItems: [{ Get: { TableName: 'users-eu', Key: {} } }] });
    assert.deepEqual(
      requestTables('TransactGetItems', { TransactItems: [{ Get: { TableName: 'users' } }] }),
      ['users'],
    );
  });
});

describe('resolveMembers', () => {
  const ok: MembersInput = {
    members: ['localhost:8000/users', { name: 'eu', location: 'eu-west-1/users-eu' }, 'us-east-1/users'],
    home: 'localhost:8000/users',
  };

  it('names members by location, maps the logical table per member and finds the home', () => {
    const { specs, write } = resolveMembers(ok);
    assert.deepEqual(
      specs.map((s) => s.name),
      ['http://localhost:8000/users', 'eu', 'us-east-1/users'],
    );
    assert.deepEqual(
      specs.map((s) => s.names.toMember.get('users')),
      ['users', 'users-eu', 'users'],
    );
    assert.equal(write, 0);
    assert.equal(resolveMembers({ ...ok, home: 'eu' }).write, 1);
    assert.equal(
      resolveMembers({ ...ok, home: undefined, mode: 'multi-active', local: 'us-east-1/users' }).write,
      2,
    );
  });

  it('keeps the identity out of default names (a role external id is not shown)', () => {
    const { specs } = resolveMembers({
      members: ['us-east-1/users?role=arn:aws:iam::123456789012:role/reader&external-id=topsecret1'],
      home: 'us-east-1/users',
    });
    assert.equal(specs[0]?.name, 'us-east-1/users');
  });

  it('refuses bad options with a UsageError naming the problem', () => {
    const cases: [MembersInput, RegExp][] = [
      [{ members: [], home: 'x' }, /members: at least one member is required/],
      [{ ...ok, home: undefined }, /home is required in a one-way group/],
      [
        { ...ok, home: 'ap-south-1/users' },
        /home "ap-south-1\/users" is not one of the members \("http:\/\/localhost:8000\/users", "eu", "us-east-1\/users"\)/,
      ],
      [{ ...ok, mode: 'multi-active' }, /home is for one-way groups/],
      [{ ...ok, home: undefined, mode: 'multi-active' }, /local is required in a multi-active group/],
      [{ ...ok, local: 'eu' }, /local is for multi-active groups/],
      [{ ...ok, mode: 'both' as 'one-way' }, /mode must be "one-way" or "multi-active" \(got "both"\)/],
      [
        { members: ['us-east-1/users', 'us-east-1/users'], home: 'us-east-1/users' },
        /member "us-east-1\/users" is listed twice \(members\[1\]\)/,
      ],
      [
        { members: ['us-east-1/users', 'us-east-1/users?profile=other'], home: 'us-east-1/users' },
        /member name "us-east-1\/users" is used twice \(members\[1\]\); give the members distinct names/,
      ],
      [{ members: ['us-east-1'], home: 'us-east-1', table: 'x' }, /table: table name "x" must be 3 to 255/],
      [{ members: ['nowhere:99999/users'], home: 'x' }, /port 99999 is not between 1 and 65535/],
      [
        { members: [{ location: 'us-east-1/users', tables: { users: 'other' } }], home: 'us-east-1/users' },
        /table "users" is mapped twice/,
      ],
      [
        { members: [{ location: 'us-east-1/users', tables: { orders: 'users' } }], home: 'us-east-1/users' },
        /several logical tables map to its table "users"/,
      ],
      [
        { members: [{ name: '', location: 'us-east-1/users' }], home: 'x' },
        /members\[0\]: name must be a non-empty string/,
      ],
    ];
    for (const [input, message] of cases)
      assert.throws(
        () => resolveMembers(input),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
        `expected ${message}`,
      );
  });

  it('never shows a password written into an endpoint URL', () => {
    for (const location of [
      'http://admin:s3cr3t-pw@127.0.0.1:8000/users',
      {
        location: {
          kind: 'endpoint' as const,
          endpoint: 'http://admin:s3cr3t-pw@127.0.0.1:8000',
          table: 'users',
        },
      },
    ]) {
      const error = (() => {
        try {
          resolveMembers({ members: [location], home: 'x' });
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      assert.ok(error instanceof UsageError, 'refused');
      assert.match(error.message, /credentials do not belong in the location/);
      assert.doesNotMatch(`${error.message}\n${error.stack}`, /s3cr3t/);
    }
  });
});
