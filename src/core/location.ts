/**
 * Where a table lives, as users write it on the command line: `region/table` for AWS,
 * `host:port/table` or `http(s)://host:port/table[?region=r]` for DynamoDB Local and other
 * DynamoDB-compatible endpoints. Parsing is strict so a typo fails before anything is read or written.
 */
import { UsageError } from './errors.js';

export type TableLocation =
  | { kind: 'aws'; region: string; table: string }
  | { kind: 'endpoint'; endpoint: string; region?: string; table: string };

export type ServiceLocation =
  { kind: 'aws'; region: string } | { kind: 'endpoint'; endpoint: string; region?: string };

const TABLE_FORMS =
  'expected region/table (e.g. us-east-1/users), host:port/table (e.g. localhost:8000/users) ' +
  'or http(s)://host:port/table with an optional ?region=us-east-1';
const SERVICE_FORMS =
  'expected a region (e.g. us-east-1), host:port (e.g. localhost:8000) ' +
  'or http(s)://host:port with an optional ?region=us-east-1';

/**
 * AWS region names: partition prefix (us, eu, cn, ...), optional sub-partition (gov, iso, isob, de
 * in eusc-de-east-1), a compass direction and a number.
 */
const REGION =
  /^[a-z]{2,4}(?:-[a-z]{2,4})?-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d{1,2}$/;
/** Region names given with an endpoint are free-form (DynamoDB Local keeps one database per name). */
const ENDPOINT_REGION = /^[A-Za-z0-9_-]{1,64}$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

export function isRegionName(text: string): boolean {
  return REGION.test(text);
}

/** Why `name` is not a valid DynamoDB table name, or undefined when it is. */
export function tableNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 255) return `table name "${name}" must be 3 to 255 characters long`;
  if (!TABLE_NAME.test(name)) {
    return `table name "${name}" may contain only letters, digits, underscore (_), hyphen (-) and dot (.)`;
  }
  return undefined;
}

function locationError(kind: 'table' | 'service', text: string, problem: string): UsageError {
  return new UsageError(
    `invalid ${kind === 'table' ? 'table location' : 'region or endpoint'} "${text}": ${problem}; ` +
      (kind === 'table' ? TABLE_FORMS : SERVICE_FORMS),
  );
}

type Fail = (problem: string) => UsageError;

function checkPort(port: string, fail: Fail): void {
  const n = Number(port);
  if (!(n >= 1 && n <= 65535)) throw fail(`port ${port} is not between 1 and 65535`);
}

/** Splits `?region=r` off an endpoint form; any other query parameter is a mistake. */
function splitQuery(text: string, fail: Fail): { rest: string; region?: string } {
  const q = text.indexOf('?');
  if (q < 0) return { rest: text };
  const params = new URLSearchParams(text.slice(q + 1));
  let region: string | undefined;
  for (const [name, value] of params) {
    if (name !== 'region') throw fail(`unknown parameter "${name}" (only region is allowed)`);
    if (!ENDPOINT_REGION.test(value)) throw fail(`region "${value}" is not a region name`);
    region = value;
  }
  return region === undefined ? { rest: text.slice(0, q) } : { rest: text.slice(0, q), region };
}

/** Parses an endpoint (`host:port` or `http(s)://host[:port]`) with no path; returns its base URL. */
function parseEndpoint(text: string, fail: Fail): string {
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw fail('not a valid URL');
    }
    if (url.username || url.password) throw fail('credentials do not belong in the location');
    if (url.hash) throw fail('unexpected "#" in the location');
    if (url.pathname !== '/' && url.pathname !== '') throw fail(`unexpected path "${url.pathname}"`);
    return `${url.protocol}//${url.host}`;
  }
  const m = HOST_PORT.exec(text);
  if (!m) throw fail(`"${text}" is neither a region nor host:port`);
  checkPort(m[1] as string, fail);
  return `http://${text.toLowerCase()}`;
}

function withRegion<T extends object>(value: T, region: string | undefined): T & { region?: string } {
  return region === undefined ? value : { ...value, region };
}

/**
 * Parses a table location as the commands take it; UsageError naming the accepted forms otherwise.
 *
 * @example
 * parseTableLocation('us-east-1/users'); // { kind: 'aws', region: 'us-east-1', table: 'users' }
 * parseTableLocation('localhost:8000/users'); // DynamoDB Local
 * parseTableLocation('https://dynamodb.example.com/users?region=eu-west-1');
 */
export function parseTableLocation(text: string): TableLocation {
  const fail: Fail = (problem) => locationError('table', text, problem);
  const trimmed = text.trim();
  if (trimmed === '') throw fail('it is empty');
  const { rest, region } = splitQuery(trimmed, fail);
  if (/^https?:\/\/[^/]*\/?$/i.test(rest)) throw fail('no table name after the endpoint');
  const slash = rest.lastIndexOf('/');
  if (slash < 0) throw fail('no table name (missing "/" before it)');
  const table = rest.slice(slash + 1);
  const base = rest.slice(0, slash);
  if (table === '') throw fail('the table name is empty');
  const tableProblem = tableNameProblem(table);
  if (tableProblem) throw fail(tableProblem);
  if (REGION.test(base)) {
    if (region !== undefined) throw fail('?region= is only for endpoints; the region is already given');
    return { kind: 'aws', region: base, table };
  }
  if (base === '') throw fail('no region or endpoint before the table name');
  if (!/^https?:\/\//i.test(base) && !base.includes(':')) {
    throw fail(`"${base}" is not a region name`);
  }
  const endpoint = parseEndpoint(base, fail);
  return withRegion({ kind: 'endpoint', endpoint, table }, region);
}

export function parseServiceLocation(text: string): ServiceLocation {
  const fail: Fail = (problem) => locationError('service', text, problem);
  const trimmed = text.trim();
  if (trimmed === '') throw fail('it is empty');
  const { rest, region } = splitQuery(trimmed, fail);
  const base = rest.replace(/\/$/, '');
  if (REGION.test(base)) {
    if (region !== undefined) throw fail('?region= is only for endpoints; the region is already given');
    return { kind: 'aws', region: base };
  }
  if (!/^https?:\/\//i.test(base) && !base.includes(':')) {
    throw fail(`"${base}" is not a region name`);
  }
  return withRegion({ kind: 'endpoint', endpoint: parseEndpoint(base, fail) }, region);
}

/** The text form, which parseTableLocation reads back to the same location. */
export function formatTableLocation(loc: TableLocation): string {
  if (loc.kind === 'aws') return `${loc.region}/${loc.table}`;
  return `${loc.endpoint}/${loc.table}${loc.region === undefined ? '' : `?region=${loc.region}`}`;
}

export function formatServiceLocation(loc: ServiceLocation): string {
  if (loc.kind === 'aws') return loc.region;
  return `${loc.endpoint}${loc.region === undefined ? '' : `?region=${loc.region}`}`;
}
