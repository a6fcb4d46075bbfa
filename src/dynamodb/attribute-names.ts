/**
 * Keeps the attribute name `__proto__` on reads.
 *
 * DynamoDB stores an attribute named `__proto__` like any other, and the AWS SDK writes it correctly,
 * but its response deserializer drops the value: measured against DynamoDB Local with
 * @aws-sdk/client-dynamodb 3.1169 and @aws-sdk/client-dynamodb-streams 3.1141, GetItem, BatchGetItem,
 * Scan and Query return a top-level `__proto__` attribute as an own property whose value is
 * `undefined`, and GetRecords does the same for `__proto__` nested in a map too (the DynamoDB client
 * keeps nested ones). `constructor`, `toString` and every other name come back intact.
 *
 * `keepProtoAttributes` adds two middlewares to a client: one keeps the raw response body when it
 * contains `"__proto__"` (a byte search; other responses cost nothing more), the other puts every
 * `__proto__` attribute the SDK lost back into the output, parsed from that body. Every client the
 * project creates has them; a library user passing their own clients should call this on them.
 */
import { ownAttribute, setAttribute } from '../core/attribute-map.js';
import { TYPE_KEYS, valueFromDynamoJson } from '../core/ddb-json.js';
import { isReadable, readBody } from './response-body.js';

const RAW_BODY = Symbol('rawBodyWithProto');
const MARKER = Buffer.from('"__proto__"');
const CAPTURE = 'captureProtoAttributeBody';
const RESTORE = 'restoreProtoAttributes';

interface MiddlewareClient {
  middlewareStack: {
    add(middleware: unknown, options: Record<string, unknown>): void;
    identify(): string[];
  };
}

type Next = (args: unknown) => Promise<{ output?: unknown; response?: unknown }>;
type Context = Record<symbol, Buffer | undefined>;

function isObject(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Date)
  );
}

function isTypedValue(v: unknown): boolean {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && TYPE_KEYS.has(keys[0] as string);
}

/**
 * Walks the raw response JSON beside the SDK output and sets every `__proto__` attribute the SDK
 * left undefined from the raw value. Exported for tests.
 */
export function restoreProtoAttributes(output: unknown, raw: unknown): void {
  if (Array.isArray(raw)) {
    if (Array.isArray(output)) raw.forEach((r, i) => restoreProtoAttributes(output[i], r));
    return;
  }
  if (!isObject(raw) || !isObject(output)) return;
  for (const name of Object.keys(raw)) {
    const r = raw[name];
    const o = ownAttribute(output, name);
    if (name === '__proto__' && o === undefined && isTypedValue(r)) {
      setAttribute(output, name, valueFromDynamoJson(r, 'response'));
    } else {
      restoreProtoAttributes(o, r);
    }
  }
}

/** Adds the two middlewares to `client` (once; a second call changes nothing). Returns the client. */
export function keepProtoAttributes<C extends MiddlewareClient>(client: C): C {
  const stack = client.middlewareStack;
  if (stack.identify().some((m) => m.startsWith(CAPTURE))) return client;
  stack.add(
    (next: Next, context: Context) => async (args: unknown) => {
      const result = await next(args);
      const response = result.response as { body?: unknown } | undefined;
      if (response && isReadable(response.body)) {
        const bytes = await readBody(response.body);
        response.body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        context[RAW_BODY] = bytes.includes(MARKER) ? bytes : undefined;
      }
      return result;
    },
    // Innermost in the deserialize step: sees the HTTP response before the SDK parses it.
    { step: 'deserialize', priority: 'low', name: CAPTURE },
  );
  stack.add(
    (next: Next, context: Context) => async (args: unknown) => {
      const result = await next(args);
      const raw = context[RAW_BODY];
      if (raw) restoreProtoAttributes(result.output, JSON.parse(raw.toString('utf8')));
      return result;
    },
    { step: 'initialize', name: RESTORE },
  );
  return client;
}
