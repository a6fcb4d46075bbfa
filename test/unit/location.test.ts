import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatServiceLocation,
  formatTableLocation,
  isRegionName,
  parseServiceLocation,
  parseTableLocation,
  tableNameProblem,
} from '../../src/core/location.js';
import { UsageError } from '../../src/core/errors.js';

const PARAMS_HELP =
  'optional parameters: ?region=, profile=, role= (with external-id=, session-name=, duration=)';
const TABLE_FORMS =
  'expected region/table (e.g. us-east-1/users), table (region from AWS_REGION, AWS_DEFAULT_REGION ' +
  'or the profile), host:port/table (e.g. localhost:8000/users) or http(s)://host:port/table; ' +
  PARAMS_HELP;
const ROLE = 'arn:aws:iam::111122223333:role/replicator';

function rejects(text: string, problem: string): void {
  assert.throws(
    () => parseTableLocation(text),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.equal(e.message, `invalid table location "${text}": ${problem}; ${TABLE_FORMS}`);
      return true;
    },
  );
}

describe('parseTableLocation', () => {
  it('reads region/table', () => {
    assert.deepEqual(parseTableLocation('us-east-1/users'), {
      kind: 'aws',
      region: 'us-east-1',
      table: 'users',
    });
    assert.deepEqual(parseTableLocation('cn-north-1/a.b-c_d'), {
      kind: 'aws',
      region: 'cn-north-1',
      table: 'a.b-c_d',
    });
    assert.deepEqual(parseTableLocation('us-gov-west-1/tbl'), {
      kind: 'aws',
      region: 'us-gov-west-1',
      table: 'tbl',
    });
    assert.deepEqual(parseTableLocation('ap-southeast-2/tbl'), {
      kind: 'aws',
      region: 'ap-southeast-2',
      table: 'tbl',
    });
    assert.deepEqual(parseTableLocation('cn-northwest-1/tbl'), {
      kind: 'aws',
      region: 'cn-northwest-1',
      table: 'tbl',
    });
  });

  it('reads host:port/table', () => {
    assert.deepEqual(parseTableLocation('localhost:8000/users'), {
      kind: 'endpoint',
      endpoint: 'http://localhost:8000',
      table: 'users',
    });
    assert.deepEqual(parseTableLocation('127.0.0.1:4567/users?region=eu-west-1'), {
      kind: 'endpoint',
      endpoint: 'http://127.0.0.1:4567',
      region: 'eu-west-1',
      table: 'users',
    });
    assert.deepEqual(parseTableLocation('[::1]:8000/users'), {
      kind: 'endpoint',
      endpoint: 'http://[::1]:8000',
      table: 'users',
    });
  });

  it('reads http(s)://host:port/table with an optional region', () => {
    assert.deepEqual(parseTableLocation('http://localhost:8000/users'), {
      kind: 'endpoint',
      endpoint: 'http://localhost:8000',
      table: 'users',
    });
    assert.deepEqual(parseTableLocation('https://ddb.example.com:8443/users?region=us-west-2'), {
      kind: 'endpoint',
      endpoint: 'https://ddb.example.com:8443',
      region: 'us-west-2',
      table: 'users',
    });
    assert.deepEqual(parseTableLocation('https://dynamodb.eu-west-1.amazonaws.com/users'), {
      kind: 'endpoint',
      endpoint: 'https://dynamodb.eu-west-1.amazonaws.com',
      table: 'users',
    });
    assert.deepEqual(parseTableLocation('http://localhost:8000/users?region=local'), {
      kind: 'endpoint',
      endpoint: 'http://localhost:8000',
      region: 'local',
      table: 'users',
    });
  });

  it('rejects wrong locations, quoting the input and naming the expected forms', () => {
    rejects('localhost:8000', 'no table name (missing "/" before it)');
    rejects('us-east-1', 'no table name after the region (e.g. us-east-1/users)');
    rejects('ab', 'table name "ab" must be 3 to 255 characters long');
    rejects('', 'it is empty');
    rejects('us-east-1/', 'the table name is empty');
    rejects('useast1/users', '"useast1" is not a region name');
    rejects('us-east/users', '"us-east" is not a region name');
    rejects('localhost/users', '"localhost" is not a region name');
    rejects('/users', 'no region or endpoint before the table name');
    rejects('us-east-1/ab', 'table name "ab" must be 3 to 255 characters long');
    rejects(
      `us-east-1/${'a'.repeat(256)}`,
      `table name "${'a'.repeat(256)}" must be 3 to 255 characters long`,
    );
    rejects(
      'us-east-1/bad name',
      'table name "bad name" may contain only letters, digits, underscore (_), hyphen (-) and dot (.)',
    );
    rejects('localhost:99999/users', 'port 99999 is not between 1 and 65535');
    rejects('localhost:0/users', 'port 0 is not between 1 and 65535');
    rejects('http://localhost:8000', 'no table name after the endpoint');
    rejects('http://localhost:8000/', 'no table name after the endpoint');
    rejects('http://localhost:8000/a/users', 'unexpected path "/a"');
    // The message shows the location with its credentials redacted.
    assert.throws(
      () => parseTableLocation('http://user:pw@localhost:8000/users'),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message ===
          `invalid table location "http://***@localhost:8000/users": credentials do not belong in the location; ${TABLE_FORMS}`,
    );
    rejects(
      'localhost:8000/users?foo=1',
      'unknown parameter "foo" (known: region, profile, role, external-id, session-name, duration)',
    );
    rejects('users?region=eu-west-1&region=us-east-1', 'parameter "region" is given twice');
    rejects('users?region=local', 'region "local" is not a region name');
    rejects('users?profile=', 'profile "" is not a profile name');
    rejects('users?profile=a b', 'profile "a b" is not a profile name');
    rejects(
      'users?role=replicator',
      'role "replicator" is not an IAM role ARN (arn:aws:iam::123456789012:role/name)',
    );
    rejects('users?profile=p&external-id=abc', 'parameter "external-id" needs a role= parameter');
    rejects('users?session-name=abc', 'parameter "session-name" needs a role= parameter');
    rejects(`users?role=${ROLE}&duration=60`, 'duration "60" must be 900 to 43200 seconds (or 15m to 12h)');
    rejects(`users?role=${ROLE}&duration=13h`, 'duration "13h" must be 900 to 43200 seconds (or 15m to 12h)');
    rejects(`users?role=${ROLE}&external-id=a`, 'external-id must be 2 to 1224 letters, digits or +=,.@:/-');
    rejects(
      `users?role=${ROLE}&session-name=has space`,
      'session-name "has space" must be 2 to 64 letters, digits or +=,.@-',
    );
    rejects('localhost:8000/users?region=', 'region "" is not a region name');
    rejects(
      'us-east-1/users?region=us-west-2',
      '?region= is only for endpoints; the region is already given',
    );
    rejects('ftp://host:21/users', '"ftp://host:21" is neither a region nor host:port');
  });

  it('reads a table with no region, and an identity on any form', () => {
    assert.deepEqual(parseTableLocation('users'), { kind: 'aws', table: 'users' });
    assert.deepEqual(parseTableLocation('users?region=eu-west-1'), {
      kind: 'aws',
      table: 'users',
      region: 'eu-west-1',
    });
    assert.deepEqual(parseTableLocation('us-east-1/users?profile=prod'), {
      kind: 'aws',
      region: 'us-east-1',
      table: 'users',
      identity: { profile: 'prod' },
    });
    assert.deepEqual(
      parseTableLocation(
        `eu-west-1/users?role=${ROLE}&external-id=abc&session-name=nightly&duration=1h&profile=base`,
      ),
      {
        kind: 'aws',
        region: 'eu-west-1',
        table: 'users',
        identity: {
          profile: 'base',
          role: { arn: ROLE, externalId: 'abc', sessionName: 'nightly', durationSeconds: 3600 },
        },
      },
    );
    assert.deepEqual(parseTableLocation('localhost:8000/users?region=x&profile=b'), {
      kind: 'endpoint',
      endpoint: 'http://localhost:8000',
      table: 'users',
      region: 'x',
      identity: { profile: 'b' },
    });
  });

  it('formats back to a text that parses to the same location', () => {
    for (const text of [
      'us-east-1/users',
      'users',
      'users?profile=prod',
      `eu-west-1/users?profile=base&role=${ROLE}&external-id=abc&session-name=nightly&duration=900`,
      'http://localhost:8000/users',
      'https://ddb.example.com:8443/users?region=us-west-2',
      'http://localhost:8000/users?region=x&profile=a',
    ]) {
      const loc = parseTableLocation(text);
      assert.equal(formatTableLocation(loc), text);
      assert.deepEqual(parseTableLocation(formatTableLocation(loc)), loc);
    }
    assert.equal(
      formatTableLocation(parseTableLocation('localhost:8000/users')),
      'http://localhost:8000/users',
    );
  });
});

describe('parseServiceLocation', () => {
  it('reads a region, host:port or URL', () => {
    assert.deepEqual(parseServiceLocation('eu-central-1'), { kind: 'aws', region: 'eu-central-1' });
    assert.deepEqual(parseServiceLocation('localhost:8000'), {
      kind: 'endpoint',
      endpoint: 'http://localhost:8000',
    });
    assert.deepEqual(parseServiceLocation('http://localhost:8000/'), {
      kind: 'endpoint',
      endpoint: 'http://localhost:8000',
    });
    assert.deepEqual(parseServiceLocation('https://h.example:9/?region=r1'), {
      kind: 'endpoint',
      endpoint: 'https://h.example:9',
      region: 'r1',
    });
    assert.deepEqual(parseServiceLocation('?profile=prod'), { kind: 'aws', identity: { profile: 'prod' } });
    assert.deepEqual(parseServiceLocation('eu-west-1?profile=prod'), {
      kind: 'aws',
      region: 'eu-west-1',
      identity: { profile: 'prod' },
    });
  });

  it('rejects anything else naming the expected forms', () => {
    assert.throws(() => parseServiceLocation('nowhere'), {
      name: 'UsageError',
      message:
        'invalid region or endpoint "nowhere": "nowhere" is not a region name; expected a region (e.g. us-east-1), ' +
        'host:port (e.g. localhost:8000) or http(s)://host:port; ' +
        PARAMS_HELP,
    });
    assert.throws(() => parseServiceLocation('http://localhost:8000/users'), {
      message:
        /^invalid region or endpoint "http:\/\/localhost:8000\/users": unexpected path "\/users"; expected a region/,
    });
    assert.throws(() => parseServiceLocation('us-east-1/users'), { name: 'UsageError' });
  });

  it('formats back', () => {
    assert.equal(formatServiceLocation(parseServiceLocation('us-east-1')), 'us-east-1');
    assert.equal(
      formatServiceLocation(parseServiceLocation('localhost:8000?region=x')),
      'http://localhost:8000?region=x',
    );
  });
});

describe('names', () => {
  it('isRegionName knows the region shapes', () => {
    for (const r of [
      'us-east-1',
      'cn-north-1',
      'us-gov-west-1',
      'eu-central-2',
      'us-isob-east-1',
      'il-central-1',
    ]) {
      assert.equal(isRegionName(r), true, r);
    }
    for (const r of ['us-east', 'localhost', 'US-EAST-1', 'my-table-1', 'us-east-1a', '']) {
      assert.equal(isRegionName(r), false, r);
    }
  });

  it('tableNameProblem follows DynamoDB rules', () => {
    assert.equal(tableNameProblem('abc'), undefined);
    assert.equal(tableNameProblem('A_b-c.9'), undefined);
    assert.equal(tableNameProblem('a'.repeat(255)), undefined);
    assert.equal(tableNameProblem('ab'), 'table name "ab" must be 3 to 255 characters long');
    assert.match(tableNameProblem('a/b/c') ?? '', /may contain only/);
  });
});
