/**
 * Scan and Query responses whose items are taken from the response JSON as they are, instead of
 * through the SDK's schema-driven deserializer. On the wire an item is already what the project
 * calls an Item (attribute value maps, numbers as exact strings); only binary needs decoding from
 * base64. The SDK's walk rebuilt every attribute value of every item, which was most of a copy's or
 * a diff's client CPU per scanned item after JSON.parse itself (one Node process shares the cores
 * with DynamoDB Local in the benchmarks, and on AWS a Lambda is billed for it).
 *
 * The SDK still does everything else: signing, retries, errors (non-2xx responses are left to it
 * untouched) and the rest of the output (Count, LastEvaluatedKey, ConsumedCapacity), which it
 * parses from the same JSON without the items. JSON.parse keeps an attribute named `__proto__` as
 * an own property, so these items need no repair (see attribute-names.ts).
 */
import type { QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { readBody, isReadable } from './response-body.js';

const ITEMS = Symbol('wireItems');
const NAME = 'wireItems';
/** A body without these byte sequences holds no binary value (it may hold them and still have none). */
const BINARY_MARKERS = [Buffer.from('"B"'), Buffer.from('"BS"')];

type Context = Record<symbol, unknown[] | undefined>;
type Next = (args: unknown) => Promise<{ output?: unknown; response?: unknown }>;
interface HttpResponse {
  statusCode?: number;
  body?: unknown;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bytesOf(base64: unknown): unknown {
  if (typeof base64 !== 'string') return base64;
  const buffer = Buffer.from(base64, 'base64');
  // The SDK's own decoder gives a Uint8Array view as well.
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Decodes every B and BS value of one attribute value, at any depth, in place. */
function decodeValue(value: unknown): void {
  if (!isMap(value)) return;
  if ('B' in value) value.B = bytesOf(value.B);
  else if (Array.isArray(value.BS)) value.BS = value.BS.map(bytesOf);
  else if (isMap(value.M)) decodeItem(value.M);
  else if (Array.isArray(value.L)) value.L.forEach(decodeValue);
}

function decodeItem(item: Record<string, unknown>): void {
  for (const name of Object.keys(item)) decodeValue(item[name]);
}

/** Decodes the binary values of wire items in place (exported for tests). */
export function decodeWireBinaries(items: readonly unknown[]): void {
  for (const item of items) if (isMap(item)) decodeItem(item);
}

async function bodyBytes(body: unknown): Promise<Buffer | undefined> {
  if (isReadable(body)) return readBody(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

/**
 * Takes the items out of a successful response body and leaves the SDK the rest of it. Innermost
 * in the deserialize step: it sees the HTTP response before the SDK parses it.
 */
const takeItems = (next: Next, context: Context) => async (args: unknown) => {
  const result = await next(args);
  const response = result.response as HttpResponse | undefined;
  context[ITEMS] = undefined;
  const status = response?.statusCode ?? 0;
  if (!response || status < 200 || status >= 300) return result;
  const bytes = await bodyBytes(response.body);
  if (!bytes) return result;
  const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  const items = parsed.Items;
  if (Array.isArray(items)) {
    if (BINARY_MARKERS.some((m) => bytes.includes(m))) decodeWireBinaries(items);
    context[ITEMS] = items;
    delete parsed.Items;
    response.body = Buffer.from(JSON.stringify(parsed));
  } else {
    response.body = bytes;
  }
  return result;
};

/** Puts the items back into the SDK's output. */
const restoreItems = (next: Next, context: Context) => async (args: unknown) => {
  const result = await next(args);
  const items = context[ITEMS];
  if (items && isMap(result.output)) result.output.Items = items;
  return result;
};

/** The command, sending as before, with its response items read straight from the JSON. */
export function withWireItems<C extends ScanCommand | QueryCommand>(command: C): C {
  const stack = command.middlewareStack as unknown as {
    add(middleware: unknown, options: Record<string, unknown>): void;
  };
  stack.add(takeItems, { step: 'deserialize', priority: 'low', name: `${NAME}Body` });
  stack.add(restoreItems, { step: 'initialize', priority: 'low', name: `${NAME}Output` });
  return command;
}
