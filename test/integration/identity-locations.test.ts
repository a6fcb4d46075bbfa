/**
 * Two AWS accounts on one machine: DynamoDB Local (started without -sharedDb) keeps one database per
 * access key and region, so the keys of two profiles in a temporary shared credentials file are two
 * accounts. `copy`, `diff-tables --repair`, `restore` and the `replicate` runner move data from
 * account A to account B with a profile per location; with the profiles swapped they fail naming the
 * location and the missing table, and write nothing. A role location is assumed through the STS
 * stand-in (test/harness/sts-stand-in.ts: nothing local plays STS), which checks the ExternalId.
 * Region-less locations reach DynamoDB Local through AWS_ENDPOINT_URL_DYNAMODB, with the region
 * from AWS_DEFAULT_REGION or the profile. An S3 bucket in another region is found from S3's
 * PermanentRedirect answer, which s3rver never gives: a small fake in front of s3rver gives that one
 * answer (and nothing else). No output ever holds a secret key or session token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../../src/core/types.js';
import { awkwardItems, loadItems, sortById } from '../harness/backup-fixtures.js';
import { runCliCapture, type CliResult } from '../harness/cli.js';
import { createTestTable, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { startStsStandIn } from '../harness/sts-stand-in.js';
import { startLocalS3 } from '../harness/s3.js';
import { withEnv } from '../harness/env.js';
import { scanAll } from '../harness/table-items.js';

const A = { profile: 'account-a', key: 'AKIAACCOUNTA00000001', secret: 'SecretOfAccountA-RECOGNISABLE-1' };
const B = {
  profile: 'account-b',
  key: 'AKIAACCOUNTB00000002',
  secret: 'SecretOfAccountB-RECOGNISABLE-2',
  token: 'SessionTokenOfB-RECOGNISABLE-3',
};
const SECRETS = [A.secret, B.secret, B.token, 'secret1', 'token1'];
const ROLE = 'arn:aws:iam::111122223333:role/replicator';

let endpoint: string;
let dir: string;
/** Every output of every command this file runs, checked for secrets at the end. */
const outputs: CliResult[] = [];

function admin(key: string, secret: string, region = 'us-east-1'): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region,
    credentials: { accessKeyId: key, secretAccessKey: secret },
    maxAttempts: 3,
  });
}

async function tableNames(client: DynamoDBClient): Promise<string[]> {
  return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
}

/** Runs a command; one expected to fail runs a second time with --debug (stack traces). */
async function run(argv: string[], options: { fails?: boolean } = {}): Promise<CliResult> {
  const result = await runCliCapture(argv);
  outputs.push(result);
  if (options.fails) outputs.push(await runCliCapture([...argv, '--debug']));
  return result;
}

const loc = (table: string, query: string) => `${endpoint}/${table}?${query}`;
const inA = (table: string) => loc(table, `profile=${A.profile}`);
const inB = (table: string) => loc(table, `profile=${B.profile}`);

before(async () => {
  endpoint = await dynamoEndpoint();
  dir = await mkdtemp(path.join(tmpdir(), 'identity-'));
  await writeFile(
    path.join(dir, 'credentials'),
    `[${A.profile}]\naws_access_key_id = ${A.key}\naws_secret_access_key = ${A.secret}\n\n` +
      `[${B.profile}]\naws_access_key_id = ${B.key}\naws_secret_access_key = ${B.secret}\n` +
      `aws_session_token = ${B.token}\n\n` +
      // s3rver's own keys, for the S3 location's profile.
      `[backup-store]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n`,
  );
  await writeFile(
    path.join(dir, 'config'),
    `[profile ${A.profile}]\nregion = eu-west-1\n\n[profile ${B.profile}]\nregion = ap-south-1\n`,
  );
  // Only the files and the stand-in identify anyone: no keys in the environment.
  Object.assign(process.env, {
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
    AWS_CONFIG_FILE: path.join(dir, 'config'),
  });
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  delete process.env.AWS_PROFILE;
});

after(() => rm(dir, { recursive: true, force: true }));

test('copy from account A to account B with a profile per location; swapped profiles fail and write nothing', async () => {
  const a = admin(A.key, A.secret);
  const b = admin(B.key, B.secret);
  const source = await createTestTable(a);
  const items = awkwardItems(60);
  await loadItems(a, source, items);
  const target = uniqueName('copy-target');

  const r = await run(['copy', inA(source), inB(target), '--create', '--json', '--debug']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(sortById(await scanAll(b, target)), sortById(await scanAll(a, source)));
  assert.equal((await scanAll(b, target)).length, 60);
  assert.ok(!(await tableNames(a)).includes(target), 'nothing was created in account A');
  assert.ok(!(await tableNames(b)).includes(source), 'account B never had the source');

  const swappedTarget = uniqueName('swapped');
  const before = { a: await tableNames(a), b: await tableNames(b) };
  const swapped = await run(['copy', inB(source), inA(swappedTarget), '--create'], { fails: true });
  assert.equal(swapped.code, 2);
  assert.equal(
    swapped.stderr.split('\n')[0],
    `error: Table "${source}" was not found at ${endpoint} (region us-east-1, profile ${B.profile}) ` +
      `(DescribeTable: Cannot do operations on a non-existent table)`,
  );
  assert.deepEqual({ a: await tableNames(a), b: await tableNames(b) }, before, 'nothing was created');
});

test('diff-tables --repair between accounts makes B equal A; swapped profiles fail and change nothing', async () => {
  const a = admin(A.key, A.secret);
  const b = admin(B.key, B.secret);
  const primary = await createTestTable(a);
  const replica = await createTestTable(b);
  const items = awkwardItems(40);
  await loadItems(a, primary, items);
  await loadItems(b, replica, items.slice(0, 38));
  await b.send(
    new PutItemCommand({ TableName: replica, Item: { ...items[5], text: { S: 'changed' } } as Item }),
  );
  await b.send(new PutItemCommand({ TableName: replica, Item: { id: { S: 'only-in-b' } } }));

  const swapped = await run(['diff-tables', inB(primary), inA(replica), '--repair'], { fails: true });
  assert.equal(swapped.code, 2);
  // Both tables are described at once; whichever answers first is named.
  const notFound = (table: string, profile: string) =>
    `error: Table "${table}" was not found at ${endpoint} (region us-east-1, profile ${profile}) ` +
    `(DescribeTable: Cannot do operations on a non-existent table)`;
  assert.ok(
    [notFound(primary, B.profile), notFound(replica, A.profile)].includes(
      swapped.stderr.split('\n')[0] ?? '',
    ),
    swapped.stderr,
  );
  assert.equal((await scanAll(b, replica)).length, 39, 'the swapped run changed nothing');

  const r = await run(['diff-tables', inA(primary), inB(replica), '--repair', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const summary = JSON.parse(r.stdout) as { discrepancies: Record<string, number> };
  assert.deepEqual(summary.discrepancies, { missing: 2, different: 1, extraneous: 1, total: 4 });
  assert.deepEqual(sortById(await scanAll(b, replica)), sortById(await scanAll(a, primary)));
});

test('restore a backup of account A into account B; into the wrong account it fails and writes nothing', async () => {
  const a = admin(A.key, A.secret);
  const b = admin(B.key, B.secret);
  const source = await createTestTable(a);
  await loadItems(a, source, awkwardItems(30));
  const backupDir = path.join(dir, uniqueName('backup'));
  const backup = await run(['backup-table', inA(source), backupDir, '--jobid', 'job-1', '--json']);
  assert.equal(backup.code, 0, backup.stderr);
  const target = await createTestTable(b);

  const swapped = await run(['restore', backupDir, inA(target)], { fails: true });
  assert.equal(swapped.code, 2);
  assert.equal(
    swapped.stderr,
    `error: ${inA(target)} does not exist; pass --create to create it from the backup's table description\n`,
  );
  assert.ok(!(await tableNames(a)).includes(target));

  const r = await run(['restore', backupDir, inB(target), '--json', '--debug']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).puts, 30);
  assert.deepEqual(sortById(await scanAll(b, target)), sortById(await scanAll(a, source)));
});

test('the replicate runner reads A and writes B; swapped profiles fail before writing', async () => {
  const a = admin(A.key, A.secret);
  const b = admin(B.key, B.secret);
  const source = await createTestTable(a, { stream: 'NEW_AND_OLD_IMAGES' });
  const replica = await createTestTable(b);
  const items: Item[] = Array.from({ length: 25 }, (_, i) => ({
    id: { S: `item-${String(i).padStart(6, '0')}` },
    big: { N: `1234567890123456789012345678901234567${i % 10}` },
    tags: { SS: ['a', `b${i}`] },
  }));
  await loadItems(a, source, items);
  await a.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'item-000003' } } }));
  const checkpoint = path.join(dir, uniqueName('checkpoint'));

  const swapped = await runCliCapture(['replicate', inB(source), inA(replica), '--checkpoint', checkpoint]);
  outputs.push(swapped);
  assert.equal(swapped.code, 2);
  assert.match(swapped.stderr, new RegExp(`Table "${source}" was not found at .*profile ${B.profile}`));
  assert.ok(!(await readdir(dir)).includes(path.basename(checkpoint)), 'no checkpoint was written');

  const r = await runCliCapture([
    'replicate',
    inA(source),
    inB(replica),
    '--checkpoint',
    checkpoint,
    '--json',
    '--stop-when-idle',
    '800ms',
  ]);
  outputs.push(r);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await scanAll(b, replica)).length, 24);
  assert.deepEqual(sortById(await scanAll(b, replica)), sortById(await scanAll(a, source)));
  assert.ok(!(await tableNames(a)).includes(replica));
});

test('a role location is assumed through STS with its ExternalId, signed by the profile; a wrong ExternalId is refused', async () => {
  const sts = await startStsStandIn(3_600_000, { externalId: 'ext-42' });
  process.env.AWS_ENDPOINT_URL_STS = sts.endpoint;
  const a = admin(A.key, A.secret);
  const source = await createTestTable(a);
  await loadItems(a, source, awkwardItems(20));
  // The first session the stand-in hands out is the account the role lives in.
  const roleAccount = admin(sts.accessKeyId(1), 'secret1');
  const target = await createTestTable(roleAccount);
  const role = (externalId: string) =>
    loc(target, `profile=${A.profile}&role=${ROLE}&external-id=${externalId}&session-name=nightly-copy`);

  const refused = await runCliCapture(['copy', inA(source), role('wrong-id'), '--debug']);
  outputs.push(refused);
  assert.equal(refused.code, 2);
  assert.equal(
    refused.stderr.split('\n')[0],
    `error: location "${role('wrong-id')}": assuming role ${ROLE} failed: AccessDenied: ` +
      'User is not authorized to perform: sts:AssumeRole',
  );
  assert.deepEqual(sts.calls, []);
  assert.equal((await scanAll(roleAccount, target)).length, 0);

  const r = await runCliCapture(['copy', inA(source), role('ext-42')]);
  outputs.push(r);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(sts.calls, [
    {
      roleArn: ROLE,
      sessionName: 'nightly-copy',
      externalId: 'ext-42',
      durationSeconds: '',
      signedBy: A.key,
    },
  ]);
  assert.deepEqual(sortById(await scanAll(roleAccount, target)), sortById(await scanAll(a, source)));
});

test('a location without a region takes AWS_REGION, AWS_DEFAULT_REGION or the profile; none is an error naming all three', async () => {
  const inIreland = admin(A.key, A.secret, 'eu-west-1');
  const inMumbai = admin(B.key, B.secret, 'ap-south-1');
  const ireland = await createTestTable(inIreland);
  const mumbai = await createTestTable(inMumbai);
  await withEnv(
    { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
    async () => {
      // The profile's own region (eu-west-1 for A, ap-south-1 for B).
      let r = await run(['describe', `${ireland}?profile=${A.profile}`, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { TableName: string }).TableName, ireland);
      r = await run(['tables', `?profile=${B.profile}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.split('\n').includes(mumbai), r.stdout);
      assert.ok(!r.stdout.split('\n').includes(ireland), r.stdout);
      // AWS_DEFAULT_REGION wins over the profile, AWS_REGION over both.
      await withEnv({ AWS_DEFAULT_REGION: 'eu-west-1' }, async () => {
        r = await run(['tables', `?profile=${B.profile}`]);
        assert.equal(r.stdout, '');
        await withEnv({ AWS_REGION: 'ap-south-1' }, async () => {
          r = await run(['tables', `?profile=${B.profile}`]);
          assert.ok(r.stdout.split('\n').includes(mumbai), r.stdout);
        });
      });
      await withEnv({ AWS_PROFILE: 'nobody' }, async () => {
        r = await run(['describe', 'users'], { fails: true });
        assert.equal(r.code, 2);
        assert.equal(
          r.stderr,
          'error: location "users": no region: set AWS_REGION or AWS_DEFAULT_REGION, or region in ' +
            'profile "nobody" of the shared config file (~/.aws/config), or name it in the location ' +
            '(e.g. us-east-1/users)\n',
        );
      });
    },
  );
});

test('bad identities are clear errors naming the location, exit 2', async () => {
  let r = await run(['describe', loc('users', 'profile=nobody')], { fails: true });
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.split('\n')[0],
    `error: location "${loc('users', 'profile=nobody')}": reading credentials of profile "nobody" failed: ` +
      'CredentialsProviderError: Could not resolve credentials using profile: [nobody] in configuration/credentials file(s).',
  );
  r = await run(['describe', loc('users', 'profil=a')], { fails: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown parameter "profil"/);
  r = await run(['describe', 'us-nowhere/users'], { fails: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"us-nowhere" is not a region name/);
  await withEnv({ AWS_REGION: 'mars-1' }, async () => {
    r = await run(['describe', 'users'], { fails: true });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error: location "users": AWS_REGION "mars-1" is not a region name (e.g. us-east-1)\n',
    );
  });
});

/**
 * A fake for one answer only: S3 answers a request signed for the wrong region with 301
 * PermanentRedirect and the bucket's region in `x-amz-bucket-region`, which s3rver never does.
 * Requests signed for `region` go through to s3rver unchanged.
 */
async function redirectingS3(target: string, region: string) {
  const redirects: string[] = [];
  const server = http.createServer((req, res) => {
    const signedFor = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    if (signedFor !== region) {
      redirects.push(`${req.method} ${req.url} (signed for ${signedFor})`);
      req.resume();
      res.writeHead(301, { 'content-type': 'application/xml', 'x-amz-bucket-region': region });
      res.end(
        req.method === 'HEAD'
          ? undefined
          : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you ' +
              'are attempting to access must be addressed using the specified endpoint.</Message></Error>',
      );
      return;
    }
    const upstream = http.request(
      `${target}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, redirects };
}

test('a bucket in another region is found from its redirect, with no region configured; ?region= overrides', async () => {
  const s3 = await startLocalS3();
  const bucket = await s3.createBucket();
  const proxy = await redirectingS3(s3.endpoint, 'eu-west-1');
  const a = admin(A.key, A.secret);
  const source = await createTestTable(a);
  await loadItems(a, source, awkwardItems(10));
  await withEnv(
    { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, S3_ENDPOINT: proxy.endpoint },
    async () => {
      const url = `s3://${bucket}/backups?profile=backup-store`;
      const r = await run(['backup-table', inA(source), url, '--jobid', 'job-1', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { items: number }).items, 10);
      assert.deepEqual(
        proxy.redirects,
        [`HEAD /${bucket}/ (signed for us-east-1)`],
        'one lookup, then eu-west-1',
      );

      const b = admin(B.key, B.secret);
      const target = await createTestTable(b);
      const restore = await run(['restore', url, inB(target), '--json']);
      assert.equal(restore.code, 0, restore.stderr);
      assert.equal((JSON.parse(restore.stdout) as { puts: number }).puts, 10);
      assert.deepEqual(sortById(await scanAll(b, target)), sortById(await scanAll(a, source)));

      const pinned = await run(
        ['backup-table', inA(source), `s3://${bucket}/pinned?region=us-east-1&profile=backup-store`],
        { fails: true },
      );
      assert.equal(pinned.code, 2);
      assert.match(
        pinned.stderr,
        new RegExp(
          `^error: S3 head s3://${bucket}/pinned/AWSDynamoDB/[^ ]+: bucket "${bucket}" is in region eu-west-1, ` +
            'not us-east-1: set \\?region=eu-west-1 or leave \\?region= out\n$',
        ),
      );
    },
  );
});

test('no output, with or without --debug, holds a secret key or session token', () => {
  assert.ok(outputs.length >= 20, `${outputs.length} outputs`);
  for (const o of outputs) {
    for (const secret of SECRETS) {
      assert.ok(!o.stdout.includes(secret) && !o.stderr.includes(secret), `${secret} leaked:\n${o.stderr}`);
    }
  }
});
