/**
 * The members of a regional client (dynamodb/regional-client.ts), checked before any client exists:
 * their locations (as the commands take them), names, table maps and the write member. Every
 * mistake is a UsageError naming it.
 */
import { UsageError } from './errors.js';
import { redactUrls } from './redact.js';
import {
  formatServiceLocation,
  formatTableLocation,
  parseServiceLocation,
  parseTableLocation,
  tableNameProblem,
  type ServiceLocation,
  type TableLocation,
} from './location.js';
import { sharedMemberTables, tableNameMap, type TableNameMap } from './regional-routing.js';

export interface RegionalMember {
  /** Its name in `servedBy`, events and messages. Default: its location without the identity. */
  readonly name?: string;
  /**
   * Where it is, as the commands take it: `region/table`, `host:port/table`,
   * `https://host/table?region=r`, with `?profile=` / `?role=` for its own identity; or a region or
   * endpoint without a table (then table names pass unchanged); or such a location parsed.
   */
  readonly location: string | TableLocation | ServiceLocation;
  /** More tables: logical name -> this member's table name. */
  readonly tables?: Readonly<Record<string, string>>;
}

/** A checked member. */
export interface MemberSpec {
  readonly name: string;
  readonly location: TableLocation | ServiceLocation;
  readonly names: TableNameMap;
}

export interface MembersInput {
  /** The members, in read preference order (nearest first). */
  readonly members: readonly (string | RegionalMember)[];
  /** 'one-way' (default): writes go to `home`. 'multi-active': writes go to `local`. */
  readonly mode?: 'one-way' | 'multi-active';
  /** One-way groups: the member that takes every write (its name or location). */
  readonly home?: string;
  /** Multi-active groups: the member this application writes to (its name or location). */
  readonly local?: string;
  /**
   * The table name the application uses; each member whose location names a table maps it to that
   * table. Default: the table of the first member's location.
   */
  readonly table?: string;
}

/** Parses a location string as a table location when it names a table, else as a region or endpoint. */
function parseMemberLocation(text: string): TableLocation | ServiceLocation {
  try {
    return parseTableLocation(text);
  } catch (tableError) {
    try {
      return parseServiceLocation(text);
    } catch {
      throw tableError;
    }
  }
}

/** Re-checks a parsed location by its text form, so objects get the same checks as strings. */
function checkedLocation(
  location: string | TableLocation | ServiceLocation,
): TableLocation | ServiceLocation {
  if (typeof location === 'string') return parseMemberLocation(location);
  if (typeof location !== 'object' || location === null)
    throw new UsageError('a member location must be a string or a parsed location');
  return 'table' in location
    ? parseTableLocation(formatTableLocation(location))
    : parseServiceLocation(formatServiceLocation(location));
}

function locationText(location: TableLocation | ServiceLocation): string {
  return 'table' in location ? formatTableLocation(location) : formatServiceLocation(location);
}

function tableEntries(
  location: TableLocation | ServiceLocation,
  logical: string | undefined,
  tables: Readonly<Record<string, string>> | undefined,
  name: string,
): [string, string][] {
  const entries: [string, string][] = [];
  if ('table' in location && logical !== undefined) entries.push([logical, location.table]);
  for (const [from, to] of Object.entries(tables ?? {})) {
    for (const t of [from, to]) {
      const problem = typeof t === 'string' ? tableNameProblem(t) : 'a table name must be a string';
      if (problem) throw new UsageError(`member "${name}": tables: ${problem}`);
    }
    if (entries.some(([l]) => l === from))
      throw new UsageError(
        `member "${name}": table "${from}" is mapped twice (by its location and by tables)`,
      );
    entries.push([from, to]);
  }
  const shared = sharedMemberTables(entries);
  if (shared.length > 0)
    throw new UsageError(`member "${name}": several logical tables map to its table "${shared[0]}"`);
  return entries;
}

interface Parsed {
  readonly spec: MemberSpec;
  /** What the caller wrote (its name, its location string), also accepted for `home` and `local`. */
  readonly written: readonly string[];
  readonly full: string;
}

function parseMember(member: string | RegionalMember, index: number, logical: string | undefined): Parsed {
  const given = typeof member === 'string' ? { location: member } : member;
  if (typeof given !== 'object' || given === null || given.location === undefined)
    throw new UsageError(`members[${index}] has no location`);
  const location = checkedLocation(given.location);
  const givenName = given.name ?? locationText({ ...location, identity: undefined });
  if (typeof givenName !== 'string' || givenName.trim() === '')
    throw new UsageError(`members[${index}]: name must be a non-empty string`);
  // Names appear in every answer, event and message: never with a password written into a URL.
  const name = redactUrls(givenName.trim());
  const names = tableNameMap(tableEntries(location, logical, given.tables, name));
  return {
    spec: { name, location, names },
    written: [givenName.trim(), ...(typeof given.location === 'string' ? [given.location.trim()] : [])],
    full: locationText(location),
  };
}

/** The member `ref` names (by name or as written), or a UsageError listing the members. */
function findMember(parsed: readonly Parsed[], ref: string, option: string): number {
  const index = parsed.findIndex((p) => p.written.includes(ref.trim()));
  if (index < 0)
    throw new UsageError(
      `${option} "${redactUrls(ref)}" is not one of the members (${parsed.map((p) => `"${p.spec.name}"`).join(', ')})`,
    );
  return index;
}

function writeMember(input: MembersInput, parsed: readonly Parsed[]): number {
  const mode = input.mode ?? 'one-way';
  if (mode !== 'one-way' && mode !== 'multi-active')
    throw new UsageError(`mode must be "one-way" or "multi-active" (got "${String(mode)}")`);
  const [wanted, other] = mode === 'one-way' ? (['home', 'local'] as const) : (['local', 'home'] as const);
  if (input[other] !== undefined)
    throw new UsageError(
      mode === 'one-way'
        ? 'local is for multi-active groups (mode: "multi-active"); a one-way group writes to its home'
        : 'home is for one-way groups; a multi-active group writes to its local member (local)',
    );
  const ref = input[wanted];
  if (typeof ref !== 'string' || ref.trim() === '')
    throw new UsageError(
      mode === 'one-way'
        ? 'home is required in a one-way group: name the member that takes the writes'
        : 'local is required in a multi-active group: name the member this application writes to',
    );
  return findMember(parsed, ref, wanted);
}

/**
 * Checks the members and the write member: at least one member, no member listed twice, names
 * unique, table names valid, `home` (one-way) or `local` (multi-active) one of the members.
 * Returns the members in preference order and the index of the write member.
 */
export function resolveMembers(input: MembersInput): { specs: MemberSpec[]; write: number } {
  if (!Array.isArray(input.members) || input.members.length === 0)
    throw new UsageError('members: at least one member is required');
  if (input.table !== undefined) {
    const problem = tableNameProblem(input.table);
    if (problem) throw new UsageError(`table: ${problem}`);
  }
  const first = input.members[0];
  const firstLocation: RegionalMember['location'] | undefined =
    typeof first === 'string' ? first : typeof first === 'object' ? first?.location : undefined;
  const firstParsed = firstLocation === undefined ? undefined : checkedLocation(firstLocation);
  const logical =
    input.table ?? (firstParsed && 'table' in firstParsed ? (firstParsed as TableLocation).table : undefined);
  const parsed = input.members.map((m, i) => parseMember(m, i, logical));
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i] as Parsed;
    const earlier = parsed.slice(0, i);
    if (earlier.some((e) => e.full === p.full))
      throw new UsageError(`member "${p.full}" is listed twice (members[${i}])`);
    if (earlier.some((e) => e.spec.name === p.spec.name))
      throw new UsageError(
        `member name "${p.spec.name}" is used twice (members[${i}]); give the members distinct names`,
      );
  }
  return { specs: parsed.map((p) => p.spec), write: writeMember(input, parsed) };
}
