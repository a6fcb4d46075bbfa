/**
 * Request building for the regional client (dynamodb/regional-client.ts), without I/O: which
 * operations are reads (any healthy member may serve them) and which are writes (the home or local
 * member only), and the per-member rewriting of table names — members may name the same logical
 * table differently, so every TableName and every RequestItems key of a request is mapped to the
 * member's name on the way out, and every table name of the answer back to the logical name.
 */

/** Reads: served by the first healthy member in preference order, failed over on errors. */
const READS = new Set([
  'GetItem',
  'BatchGetItem',
  'Query',
  'Scan',
  'TransactGetItems',
  'DescribeTable',
  'DescribeTimeToLive',
]);

/** Writes: sent to the group's write member only (never failed over in a one-way group). */
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export type Route = 'read' | 'write';

/** How an operation is routed; undefined for operations the regional client does not route. */
export function routeOf(operation: string): Route | undefined {
  if (READS.has(operation)) return 'read';
  if (WRITES.has(operation)) return 'write';
  return undefined;
}

/** The operations the regional client routes, for messages and docs. */
export const ROUTED_OPERATIONS: readonly string[] = [...READS, ...WRITES];

/** One member's table names: logical name -> the member's name. Unmapped names pass unchanged. */
export interface TableNameMap {
  readonly toMember: ReadonlyMap<string, string>;
  readonly toLogical: ReadonlyMap<string, string>;
}

/** Builds a member's map; the caller has checked that no two logical names share a member table. */
export function tableNameMap(entries: Iterable<readonly [string, string]>): TableNameMap {
  const toMember = new Map(entries);
  const toLogical = new Map([...toMember].map(([logical, member]) => [member, logical] as const));
  return { toMember, toLogical };
}

/**
 * The member table names that two or more logical tables map to (each logical table must keep its
 * own member table, or a batch would merge them); empty when the map is sound.
 */
export function sharedMemberTables(entries: Iterable<readonly [string, string]>): string[] {
  const seen = new Map<string, number>();
  for (const [, member] of entries) seen.set(member, (seen.get(member) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([name]) => name);
}

type Json = Record<string, unknown>;
type Rename = (name: string) => string;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A copy of `map` with each key renamed (own properties only; `__proto__` is a legal table name). */
function renameKeys(map: unknown, rename: Rename): unknown {
  if (!isRecord(map)) return map;
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [rename(name), value]));
}

function withTableName(shape: unknown, rename: Rename): unknown {
  if (!isRecord(shape) || typeof shape.TableName !== 'string') return shape;
  return { ...shape, TableName: rename(shape.TableName) };
}

const TRANSACT_WRITE_PARTS = ['Put', 'Update', 'Delete', 'ConditionCheck'] as const;

/** Renames the tables a request names: TableName, RequestItems keys, TransactItems' tables. */
function renameInput(operation: string, input: Json, rename: Rename): Json {
  switch (operation) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return { ...input, RequestItems: renameKeys(input.RequestItems, rename) };
    case 'TransactGetItems':
    case 'TransactWriteItems': {
      const items = Array.isArray(input.TransactItems) ? (input.TransactItems as unknown[]) : undefined;
      if (!items) return input;
      const parts = operation === 'TransactGetItems' ? (['Get'] as const) : TRANSACT_WRITE_PARTS;
      return {
        ...input,
        TransactItems: items.map((item) => {
          if (!isRecord(item)) return item;
          const copy: Json = { ...item };
          for (const part of parts) if (part in copy) copy[part] = withTableName(copy[part], rename);
          return copy;
        }),
      };
    }
    default:
      return withTableName(input, rename) as Json;
  }
}

/** The table names of an answer's capacity and metrics fields, renamed. */
function renameOutput(operation: string, output: Json, rename: Rename): Json {
  const copy: Json = { ...output };
  if (operation === 'BatchGetItem') {
    copy.Responses = renameKeys(output.Responses, rename);
    copy.UnprocessedKeys = renameKeys(output.UnprocessedKeys, rename);
  }
  if (operation === 'BatchWriteItem') copy.UnprocessedItems = renameKeys(output.UnprocessedItems, rename);
  if (operation === 'BatchWriteItem' || operation === 'TransactWriteItems')
    copy.ItemCollectionMetrics = renameKeys(output.ItemCollectionMetrics, rename);
  const capacity = output.ConsumedCapacity;
  if (Array.isArray(capacity)) copy.ConsumedCapacity = capacity.map((c) => withTableName(c, rename));
  else if (capacity !== undefined) copy.ConsumedCapacity = withTableName(capacity, rename);
  for (const key of Object.keys(copy)) if (copy[key] === undefined && !(key in output)) delete copy[key];
  return copy;
}

function renamer(map: ReadonlyMap<string, string>): Rename {
  return (name) => map.get(name) ?? name;
}

/** The request as the member must receive it: logical table names replaced by the member's. */
export function memberInput(operation: string, input: Json, names: TableNameMap): Json {
  return renameInput(operation, input, renamer(names.toMember));
}

/** The member's answer with the member's table names replaced by the logical ones. */
export function logicalOutput<T extends object>(operation: string, output: T, names: TableNameMap): T {
  return renameOutput(operation, output as Json, renamer(names.toLogical)) as T;
}

/** The logical table names a request names, for messages ("GetItem on table users"). */
export function requestTables(operation: string, input: Json): string[] {
  const names = new Set<string>();
  renameInput(operation, input, (name) => {
    names.add(name);
    return name;
  });
  return [...names];
}
