/**
 * Where a table lives, as users write it on the command line: `region/table` or just `table` (the
 * region then comes from the environment or the profile) for AWS, `host:port/table` or
 * `http(s)://host:port/table[?region=r]` for DynamoDB Local and other DynamoDB-compatible endpoints.
 * Any form may carry the identity to reach it with: `?profile=name`, `?role=arn` (with
 * `external-id`, `session-name`, `duration`). Parsing is strict so a typo fails before anything is
 * read or written.
 */
import { UsageError } from './errors.js';

/** An IAM role to assume (with the location's profile, or the default chain, as base credentials). */
export interface RoleIdentity {
  readonly arn: string;
  readonly externalId?: string;
  readonly sessionName?: string;
  readonly durationSeconds?: number;
}

/** Who a location is reached as; absent: the default credential chain. */
export interface Identity {
  /** A profile of the shared config/credentials files (keys, SSO, credential_process, role). */
  readonly profile?: string;
  readonly role?: RoleIdentity;
}

export type TableLocation =
  | { kind: 'aws'; region?: string; table: string; identity?: Identity }
  | { kind: 'endpoint'; endpoint: string; region?: string; table: string; identity?: Identity };

export type ServiceLocation =
  | { kind: 'aws'; region?: string; identity?: Identity }
  | { kind: 'endpoint'; endpoint: string; region?: string; identity?: Identity };

const PARAMS_HELP =
  'optional parameters: ?region=, profile=, role= (with external-id=, session-name=, duration=)';
const TABLE_FORMS =
  'expected region/table (e.g. us-east-1/users), table (region from AWS_REGION, AWS_DEFAULT_REGION ' +
  'or the profile), host:port/table (e.g. localhost:8000/users) or http(s)://host:port/table; ' +
  PARAMS_HELP;
const SERVICE_FORMS =
  'expected a region (e.g. us-east-1), host:port (e.g. localhost:8000) ' +
  'or http(s)://host:port; ' +
  PARAMS_HELP;

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

/** An IAM role ARN, in any partition. */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** Profile names as the shared config file allows them (no spaces, brackets or '#'). */
const PROFILE = /^[A-Za-z0-9_.+@:-]{1,128}$/;
export const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** AssumeRole accepts 15 minutes to 12 hours. */
const MIN_SESSION_SECONDS = 900;
const MAX_SESSION_SECONDS = 43_200;
const PARAMS = ['region', 'profile', 'role', 'external-id', 'session-name', 'duration'] as const;
type Param = (typeof PARAMS)[number];

export interface LocationQuery {
  readonly rest: string;
  readonly region?: string;
  readonly identity?: Identity;
}

function parseSessionSeconds(text: string, fail: (problem: string) => Error): number {
  const m = /^(\d{1,6})([smh]?)$/.exec(text);
  const seconds = m ? Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1) : NaN;
  if (!(seconds >= MIN_SESSION_SECONDS && seconds <= MAX_SESSION_SECONDS))
    throw fail(`duration "${text}" must be 900 to 43200 seconds (or 15m to 12h)`);
  return seconds;
}

/**
 * Splits the query (`?region=...&profile=...&role=...`) off a location. `regionShape` checks the
 * region; any unknown or repeated parameter is a mistake, and role options need a role.
 */
export function parseLocationQuery(
  text: string,
  fail: (problem: string) => Error,
  regionShape: (region: string) => boolean = (r) => ENDPOINT_REGION.test(r),
): LocationQuery {
  const q = text.indexOf('?');
  if (q < 0) return { rest: text };
  const values = new Map<Param, string>();
  for (const [name, value] of new URLSearchParams(text.slice(q + 1))) {
    const param = PARAMS.find((p) => p === name);
    if (param === undefined) throw fail(`unknown parameter "${name}" (known: ${PARAMS.join(', ')})`);
    if (values.has(param)) throw fail(`parameter "${name}" is given twice`);
    values.set(param, value);
  }
  const region = values.get('region');
  if (region !== undefined && !regionShape(region)) throw fail(`region "${region}" is not a region name`);
  const profile = values.get('profile');
  if (profile !== undefined && !PROFILE.test(profile))
    throw fail(`profile "${profile}" is not a profile name`);
  const arn = values.get('role');
  if (arn !== undefined && !ROLE_ARN.test(arn))
    throw fail(`role "${arn}" is not an IAM role ARN (arn:aws:iam::123456789012:role/name)`);
  const externalId = values.get('external-id');
  const sessionName = values.get('session-name');
  const duration = values.get('duration');
  if (arn === undefined) {
    const orphan = (['external-id', 'session-name', 'duration'] as const).find((p) => values.has(p));
    if (orphan) throw fail(`parameter "${orphan}" needs a role= parameter`);
  }
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId))
    throw fail('external-id must be 2 to 1224 letters, digits or +=,.@:/-');
  if (sessionName !== undefined && !SESSION_NAME.test(sessionName))
    throw fail(`session-name "${sessionName}" must be 2 to 64 letters, digits or +=,.@-`);
  const role: RoleIdentity | undefined =
    arn === undefined
      ? undefined
      : {
          arn,
          ...(externalId !== undefined ? { externalId } : {}),
          ...(sessionName !== undefined ? { sessionName } : {}),
          ...(duration !== undefined ? { durationSeconds: parseSessionSeconds(duration, fail) } : {}),
        };
  const identity: Identity | undefined =
    profile === undefined && role === undefined
      ? undefined
      : { ...(profile !== undefined ? { profile } : {}), ...(role ? { role } : {}) };
  return {
    rest: text.slice(0, q),
    ...(region !== undefined ? { region } : {}),
    ...(identity ? { identity } : {}),
  };
}

/** The query text of a region and identity (`?region=...&profile=...`), or '' when there is none. */
export function formatLocationQuery(region: string | undefined, identity: Identity | undefined): string {
  const params: [string, string][] = [];
  if (region !== undefined) params.push(['region', region]);
  if (identity?.profile !== undefined) params.push(['profile', identity.profile]);
  const role = identity?.role;
  if (role) {
    params.push(['role', role.arn]);
    if (role.externalId !== undefined) params.push(['external-id', role.externalId]);
    if (role.sessionName !== undefined) params.push(['session-name', role.sessionName]);
    if (role.durationSeconds !== undefined) params.push(['duration', String(role.durationSeconds)]);
  }
  // ARNs read better unescaped; URLSearchParams accepts ':' and '/' as they are.
  return params.length === 0
    ? ''
    : `?${params.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%3A/g, ':').replace(/%2F/g, '/')}`).join('&')}`;
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

function withQuery<T extends object>(
  value: T,
  query: LocationQuery,
): T & { region?: string; identity?: Identity } {
  return {
    ...value,
    ...(query.region !== undefined ? { region: query.region } : {}),
    ...(query.identity ? { identity: query.identity } : {}),
  };
}

/** The query splitter for a location whose region shape depends on its form (AWS or endpoint). */
function splitQuery(text: string, fail: Fail): LocationQuery {
  return parseLocationQuery(text, fail, (r) => ENDPOINT_REGION.test(r));
}

function checkAwsRegion(query: LocationQuery, fail: Fail, regionInPath: boolean): void {
  if (query.region === undefined) return;
  if (regionInPath) throw fail('?region= is only for endpoints; the region is already given');
  if (!REGION.test(query.region)) throw fail(`region "${query.region}" is not a region name`);
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
  const query = splitQuery(trimmed, fail);
  const rest = query.rest;
  if (/^https?:\/\/[^/]*\/?$/i.test(rest)) throw fail('no table name after the endpoint');
  const slash = rest.lastIndexOf('/');
  if (slash < 0) {
    if (rest.includes(':')) throw fail('no table name (missing "/" before it)');
    if (REGION.test(rest)) throw fail(`no table name after the region (e.g. ${rest}/users)`);
    const problem = tableNameProblem(rest);
    if (problem) throw fail(problem);
    checkAwsRegion(query, fail, false);
    return withQuery({ kind: 'aws', table: rest }, query);
  }
  const table = rest.slice(slash + 1);
  const base = rest.slice(0, slash);
  if (table === '') throw fail('the table name is empty');
  const tableProblem = tableNameProblem(table);
  if (tableProblem) throw fail(tableProblem);
  if (REGION.test(base)) {
    checkAwsRegion(query, fail, true);
    return withQuery({ kind: 'aws', region: base, table }, query);
  }
  if (base === '') throw fail('no region or endpoint before the table name');
  if (!/^https?:\/\//i.test(base) && !base.includes(':')) {
    throw fail(`"${base}" is not a region name`);
  }
  const endpoint = parseEndpoint(base, fail);
  return withQuery({ kind: 'endpoint', endpoint, table }, query);
}

export function parseServiceLocation(text: string): ServiceLocation {
  const fail: Fail = (problem) => locationError('service', text, problem);
  const trimmed = text.trim();
  if (trimmed === '') throw fail('it is empty');
  const query = splitQuery(trimmed, fail);
  const base = query.rest.replace(/\/$/, '');
  if (base === '' && trimmed.startsWith('?')) {
    checkAwsRegion(query, fail, false);
    return withQuery({ kind: 'aws' }, query);
  }
  if (REGION.test(base)) {
    checkAwsRegion(query, fail, true);
    return withQuery({ kind: 'aws', region: base }, query);
  }
  if (!/^https?:\/\//i.test(base) && !base.includes(':')) {
    throw fail(`"${base}" is not a region name`);
  }
  return withQuery({ kind: 'endpoint', endpoint: parseEndpoint(base, fail) }, query);
}

/** The text form, which parseTableLocation reads back to the same location. */
export function formatTableLocation(loc: TableLocation): string {
  if (loc.kind === 'aws') {
    return loc.region === undefined
      ? `${loc.table}${formatLocationQuery(undefined, loc.identity)}`
      : `${loc.region}/${loc.table}${formatLocationQuery(undefined, loc.identity)}`;
  }
  return `${loc.endpoint}/${loc.table}${formatLocationQuery(loc.region, loc.identity)}`;
}

export function formatServiceLocation(loc: ServiceLocation): string {
  if (loc.kind === 'aws') {
    if (loc.region === undefined) return formatLocationQuery(undefined, loc.identity) || '(default region)';
    return `${loc.region}${formatLocationQuery(undefined, loc.identity)}`;
  }
  return `${loc.endpoint}${formatLocationQuery(loc.region, loc.identity)}`;
}
