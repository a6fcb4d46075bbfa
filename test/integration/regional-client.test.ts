/**
 * The regional client against real DynamoDB Local databases (three regions of the shared server, a
 * table of a different name in each), with the fault proxy in front of the first member to take its
 * endpoint away, and a silent peer for a member that never answers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  BatchGetItemCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { MemberUnavailableError, UsageError } from '../../src/core/errors.js';
import {
  createRegionalClient,
  type RegionalClient,
  type RegionalClientOptions,
  type RegionalEvent,
} from '../../src/dynamodb/regional-client.js';
import { waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { startSilentPeer } from '../harness/silent-peer.js';

/** Generous: polls end as soon as their condition holds; this only bounds a broken run. */
const POLL_MS = 60_000;
const KEY = { id: { S: 'k' } };

interface Group {
  readonly endpoint: string;
  readonly proxy: FaultProxy;
  /** [region, table] of members a (through the proxy), b and c. */
  readonly tables: Record<'a' | 'b' | 'c', { region: string; table: string; client: DynamoDBClient }>;
  readonly locations: Record<'a' | 'b' | 'c', string>;
}

/** Three members: the same key in each, with `copy` saying whose table it is. */
async function group(): Promise<Group> {
  const endpoint = await dynamoEndpoint();
  const proxy = await startFaultProxy(endpoint);
  const suffix = uniqueName('rg');
  const tables = {} as Group['tables'];
  const locations = {} as Group['locations'];
  for (const copy of ['a', 'b', 'c'] as const) {
    const region = `${suffix}-${copy}`;
    const client = dynamoClient(endpoint, region);
    const table = await createTestTable(client, { name: `users-${copy}` });
    await client.send(new PutItemCommand({ TableName: table, Item: { ...KEY, copy: { S: copy } } }));
    tables[copy] = { region, table, client };
    locations[copy] = `${copy === 'a' ? proxy.endpoint : endpoint}/${table}?region=${region}`;
  }
  return { endpoint, proxy, tables, locations };
}

function named(g: Group): RegionalClientOptions['members'] {
  return (['a', 'b', 'c'] as const).map((name) => ({ name, location: g.locations[name] }));
}

/** A sequential reader: each result is the member that served it and the copy it read, or the error. */
function startReader(client: RegionalClient) {
  const results: ({ servedBy: string; copy: string } | { error: unknown })[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const out = await client.send(new GetItemCommand({ TableName: 'users', Key: KEY }));
        const copy = out.Item?.copy && 'S' in out.Item.copy ? String(out.Item.copy.S) : '?';
        results.push({ servedBy: out.servedBy, copy });
      } catch (error) {
        results.push({ error });
      }
    }
  })();
  return {
    results,
    failures: () => results.filter((r) => 'error' in r),
    served: () => results.flatMap((r) => ('servedBy' in r ? [r] : [])),
    async stop() {
      running = false;
      await done;
    },
  };
}

function transitions(events: readonly RegionalEvent[], member: string, from: string, to: string): number {
  return events.filter((e) => e.type === 'state' && e.member === member && e.from === from && e.to === to)
    .length;
}

describe('regional client on DynamoDB Local', () => {
  it('fails reads over while the first member is down, with no failed request, and returns to it', async () => {
    const g = await group();
    const events: RegionalEvent[] = [];
    const client = createRegionalClient({
      members: named(g),
      home: 'a',
      table: 'users',
      deadlineMs: 30_000,
      breaker: { openMs: 100, maxOpenMs: 400 },
      probe: { intervalMs: 100, deadlineMs: 30_000 },
      onEvent: (e) => events.push(e),
    });
    const reader = startReader(client);
    try {
      await waitFor(
        async () => reader.served().filter((r) => r.servedBy === 'a').length >= 5,
        POLL_MS,
        'reads from a',
      );
      await g.proxy.down();
      const downAt = reader.results.length;
      await waitFor(
        async () =>
          reader.results.slice(downAt).filter((r) => 'servedBy' in r && r.servedBy === 'b').length >= 20,
        POLL_MS,
        '20 reads from b',
      );
      assert.equal(client.health()[0]?.state === 'closed', false, 'a is not closed while down');

      // While a is down: writes go nowhere else (one-way group).
      const write = client.send(
        new PutItemCommand({ TableName: 'users', Item: { id: { S: 'w1' }, copy: { S: 'new' } } }),
      );
      await assert.rejects(write, (e: unknown) => {
        assert.ok(e instanceof MemberUnavailableError);
        assert.equal(e.sent, false);
        assert.match(
          e.message,
          /^PutItem on table "users" was not sent: the home member "a" is unavailable \(its circuit is (open|half-open) after \d+ consecutive failures\)\. A one-way group writes only to its home member and never fails a write over to another member\.$/,
        );
        return true;
      });
      for (const copy of ['b', 'c'] as const) {
        const { client: c, table } = g.tables[copy];
        const got = await c.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'w1' } } }));
        assert.equal(got.Item, undefined, `the write did not go to ${copy}`);
      }

      // The outage lasts until the probe has made a trial of a and seen it fail.
      await waitFor(
        async () => transitions(events, 'a', 'half-open', 'open') >= 1,
        POLL_MS,
        'a failed trial',
      );
      const upAt = reader.results.length;
      await g.proxy.up();
      await waitFor(
        async () =>
          reader.results.slice(upAt).filter((r) => 'servedBy' in r && r.servedBy === 'a').length >= 5,
        POLL_MS,
        'reads from a again',
      );
    } finally {
      await reader.stop();
    }

    // No read failed: every one was served, and by the member whose copy it read.
    assert.equal(reader.failures().length, 0, String((reader.failures()[0] as { error?: unknown })?.error));
    for (const r of reader.served()) assert.equal(r.copy, r.servedBy);
    assert.equal(reader.served().filter((r) => r.servedBy === 'c').length, 0, 'c was never needed');
    // a opened once during the outage; reads never went to it while it was open: the probe made
    // every trial, and closed it once it was back.
    assert.equal(transitions(events, 'a', 'closed', 'open'), 1);
    assert.equal(transitions(events, 'a', 'half-open', 'closed'), 1);
    const opened = events.findIndex((e) => e.type === 'state' && e.member === 'a' && e.to === 'open');
    const closed = events.findIndex((e) => e.type === 'state' && e.member === 'a' && e.to === 'closed');
    // At most the one read that was already on its way to a when the breaker opened.
    const readFailuresWhileOpen = events
      .slice(opened, closed)
      .filter((e) => e.type === 'failure' && e.member === 'a' && e.source === 'request');
    assert.ok(
      readFailuresWhileOpen.length <= 1,
      `${readFailuresWhileOpen.length} reads failed on a while open`,
    );
    const trialFailures = events
      .slice(opened, closed)
      .filter((e) => e.type === 'failure' && e.member === 'a' && e.source === 'probe');
    assert.ok(trialFailures.length >= 1, 'the probe tried a while it was down');
    const failover = events.filter((e) => e.type === 'served' && e.failover);
    assert.ok(failover.every((e) => e.type === 'served' && e.member === 'b'));

    // Back on a: writes go to the home member again.
    const put = await client.send(
      new PutItemCommand({ TableName: 'users', Item: { id: { S: 'w2' }, copy: { S: 'new' } } }),
    );
    assert.equal(put.servedBy, 'a');
    const inA = await g.tables.a.client.send(
      new GetItemCommand({ TableName: g.tables.a.table, Key: { id: { S: 'w2' } } }),
    );
    assert.deepEqual(inA.Item?.copy, { S: 'new' });
    client.close();
  });

  it('maps table names both ways, passes member answers through and refuses what it does not route', async () => {
    const g = await group();
    const client = createRegionalClient({ members: named(g), home: 'a', table: 'users', probe: false });
    try {
      const batch = await client.send(
        new BatchGetItemCommand({ RequestItems: { users: { Keys: [KEY], ConsistentRead: true } } }),
      );
      assert.equal(batch.servedBy, 'a');
      assert.deepEqual(Object.keys(batch.Responses ?? {}), ['users']);
      assert.deepEqual(batch.Responses?.users?.[0]?.copy, { S: 'a' });

      // A member's own answer (here a failed condition) is the caller's, unchanged, and not failed over.
      const before = g.proxy.requests.PutItem ?? 0;
      await assert.rejects(
        client.send(
          new PutItemCommand({
            TableName: 'users',
            Item: KEY,
            ConditionExpression: 'attribute_not_exists(id)',
          }),
        ),
        (e: unknown) => {
          assert.equal((e as Error).name, 'ConditionalCheckFailedException');
          assert.equal((e as { servedBy?: string }).servedBy, 'a');
          return true;
        },
      );
      assert.equal((g.proxy.requests.PutItem ?? 0) - before, 1);
      assert.deepEqual(client.health(), [
        { member: 'a', state: 'closed', failures: 0 },
        { member: 'b', state: 'closed', failures: 0 },
        { member: 'c', state: 'closed', failures: 0 },
      ]);

      await assert.rejects(
        client.send(new ListTablesCommand({})),
        (e: unknown) =>
          e instanceof UsageError &&
          /^the regional client does not route ListTables; it routes GetItem, .*regional\.member\(name\)\.$/.test(
            e.message,
          ),
      );
      const own = await client.member('b').send(new ListTablesCommand({}));
      assert.ok(own.TableNames?.includes(g.tables.b.table));
    } finally {
      client.close();
    }
    await assert.rejects(
      client.send(new GetItemCommand({ TableName: 'users', Key: KEY })),
      /the regional client is closed/,
    );
  });

  it('works under DynamoDBDocumentClient: native values, logical table names, failover', async () => {
    const g = await group();
    const regional = createRegionalClient({
      members: named(g),
      home: 'a',
      table: 'users',
      breaker: { failureThreshold: 1 },
      probe: false,
    });
    const docs = DynamoDBDocumentClient.from(regional);
    try {
      const put = await docs.send(
        new PutCommand({
          TableName: 'users',
          Item: { id: 'd1', n: 12345678901234567890n, tags: new Set(['x']) },
        }),
      );
      assert.equal((put as { servedBy?: string }).servedBy, 'a');
      const inA = await g.tables.a.client.send(
        new GetItemCommand({ TableName: g.tables.a.table, Key: { id: { S: 'd1' } } }),
      );
      assert.deepEqual(inA.Item, { id: { S: 'd1' }, n: { N: '12345678901234567890' }, tags: { SS: ['x'] } });

      const get = new GetCommand({ TableName: 'users', Key: { id: 'k' } });
      const first = await docs.send(get);
      assert.deepEqual(first.Item, { id: 'k', copy: 'a' });
      assert.equal((first as { servedBy?: string }).servedBy, 'a');

      await g.proxy.down();
      // The same command object again: now served by b, with b's table name.
      const again = await docs.send(get);
      assert.deepEqual(again.Item, { id: 'k', copy: 'b' });
      assert.equal((again as { servedBy?: string }).servedBy, 'b');
      const batch = await docs.send(
        new BatchGetCommand({ RequestItems: { users: { Keys: [{ id: 'k' }] } } }),
      );
      assert.deepEqual(batch.Responses, { users: [{ id: 'k', copy: 'b' }] });
      const query = await docs.send(
        new QueryCommand({
          TableName: 'users',
          KeyConditionExpression: 'id = :id',
          ExpressionAttributeValues: { ':id': 'k' },
        }),
      );
      assert.deepEqual(query.Items, [{ id: 'k', copy: 'b' }]);
    } finally {
      regional.close();
      await g.proxy.up();
    }
  });

  it('multi-active: writes go to the local member, and to the next one only while it is known down', async () => {
    const g = await group();
    const client = createRegionalClient({
      members: named(g),
      mode: 'multi-active',
      local: 'a',
      table: 'users',
      deadlineMs: 30_000,
      breaker: { failureThreshold: 1, openMs: 100, maxOpenMs: 400 },
      probe: { intervalMs: 100, deadlineMs: 30_000 },
    });
    try {
      const put = (id: string) =>
        client.send(new PutItemCommand({ TableName: 'users', Item: { id: { S: id }, copy: { S: 'new' } } }));
      assert.equal((await put('m1')).servedBy, 'a');
      await g.proxy.down();
      await waitFor(async () => client.health()[0]?.state !== 'closed', POLL_MS, 'a seen down');
      const moved = await put('m2');
      assert.equal(moved.servedBy, 'b');
      const inB = await g.tables.b.client.send(
        new GetItemCommand({ TableName: g.tables.b.table, Key: { id: { S: 'm2' } } }),
      );
      assert.deepEqual(inB.Item?.copy, { S: 'new' });
      await g.proxy.up();
      await waitFor(async () => client.health()[0]?.state === 'closed', POLL_MS, 'a back');
      assert.equal((await put('m3')).servedBy, 'a');
    } finally {
      client.close();
    }
  });

  it('treats a member that never answers as failed at the deadline', async () => {
    const g = await group();
    const peer = await startSilentPeer('silent');
    const events: RegionalEvent[] = [];
    const client = createRegionalClient({
      members: [
        { name: 'silent', location: `${peer.hostPort}/users-a?region=${g.tables.a.region}` },
        { name: 'b', location: g.locations.b },
      ],
      home: 'b',
      table: 'users',
      // No trial during the test, however slow the machine: the second read must not wait again.
      breaker: { failureThreshold: 1, openMs: 600_000, maxOpenMs: 600_000 },
      probe: false,
      onEvent: (e) => events.push(e),
    });
    try {
      const first = await client.send(new GetItemCommand({ TableName: 'users', Key: KEY }));
      assert.equal(first.servedBy, 'b');
      assert.deepEqual(first.Item?.copy, { S: 'b' });
      const failures = events.filter((e) => e.type === 'failure');
      assert.equal(failures.length, 1);
      assert.match(
        (failures[0] as { message: string }).message,
        /^GetItem at member "silent" passed its deadline of 3000 ms$/,
      );
      assert.ok(peer.requests() >= 1, 'the request reached the silent peer');
      // The breaker is open: the next read goes straight to b.
      const second = await client.send(new GetItemCommand({ TableName: 'users', Key: KEY }));
      assert.equal(second.servedBy, 'b');
      assert.equal(events.filter((e) => e.type === 'failure').length, 1);
    } finally {
      client.close();
    }
  });

  it('keeps a secret in a member name out of answers, events and errors', async () => {
    const g = await group();
    const events: RegionalEvent[] = [];
    await g.proxy.down();
    const client = createRegionalClient({
      members: [
        { name: 'http://admin:s3cr3t-pw@db.example', location: g.locations.a },
        { name: 'b', location: g.locations.b },
      ],
      home: 'http://admin:s3cr3t-pw@db.example',
      table: 'users',
      breaker: { failureThreshold: 1 },
      probe: false,
      onEvent: (e) => events.push(e),
    });
    try {
      const read = await client.send(new GetItemCommand({ TableName: 'users', Key: KEY }));
      assert.equal(read.servedBy, 'b');
      const error = await client
        .send(new PutItemCommand({ TableName: 'users', Item: { id: { S: 'x' } } }))
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      assert.ok(error instanceof MemberUnavailableError);
      const seen = JSON.stringify({
        events,
        message: error.message,
        stack: error.stack,
        members: client.members,
      });
      assert.doesNotMatch(seen, /s3cr3t/);
      assert.match(seen, /http:\/\/\*\*\*@db\.example/);
      assert.ok(events.some((e) => e.type === 'failure'));
    } finally {
      client.close();
    }
  });

  it("does not keep a process alive: the probe timer is unref'd", async () => {
    const g = await group();
    const root = path.resolve(import.meta.dirname, '../..');
    // Below node_modules, so the script's AWS SDK import resolves as in an application.
    const dir = path.join(root, 'node_modules/.cache', uniqueName('regional-exit'));
    await mkdir(dir, { recursive: true });
    const script = path.join(dir, 'never-closed.mts');
    const entry = pathToFileURL(path.join(root, 'src/index.ts')).href;
    await writeFile(
      script,
      [
        "import { GetItemCommand } from '@aws-sdk/client-dynamodb';",
        `import { createRegionalClient } from '${entry}';`,
        `const regional = createRegionalClient(${JSON.stringify({
          members: [g.locations.b, g.locations.c],
          home: g.locations.b,
          table: 'users',
          probe: { intervalMs: 50 },
        })});`,
        "const out = await regional.send(new GetItemCommand({ TableName: 'users', Key: { id: { S: 'k' } } }));",
        'console.log(out.servedBy === regional.members[0] ? "served" : "wrong member");',
        '// No close(): the process must still end.',
      ].join('\n'),
    );
    try {
      const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        // The timeout only bounds a broken run (a process the probe keeps alive).
        execFile(
          process.execPath,
          ['--import', 'tsx', script],
          { cwd: root, timeout: 120_000 },
          (error, stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
        );
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'served\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
