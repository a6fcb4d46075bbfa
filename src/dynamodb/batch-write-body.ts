/**
 * A BatchWriteItem command whose JSON body is written once by JSON.stringify instead of by the
 * SDK's schema-driven serializer. Items here are already in the wire's shape (attribute value maps
 * with numbers as exact strings), so the only translation is binary to base64; the SDK's walk of
 * every attribute value was the largest part of the client's CPU per written item in a copy (one
 * Node process shares two cores with DynamoDB Local in the benchmarks, and on AWS a Lambda is billed
 * for it). The SDK still does everything else (endpoint, signing of this body, retries, parsing the
 * response); it serializes only a shell of the input with the same tables and no items.
 */
import {
  BatchWriteItemCommand,
  type AttributeValue,
  type BatchWriteItemCommandInput,
} from '@aws-sdk/client-dynamodb';

const NAME = 'preserializedBatchWriteBody';

/** JSON.stringify replacer: Uint8Array (and Buffer, before its toJSON) as base64, as the wire wants. */
function binaryAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array)
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

function valueHasBinary(v: AttributeValue): boolean {
  if (v.B !== undefined || v.BS !== undefined) return true;
  if (v.M !== undefined) return mapHasBinary(v.M);
  if (v.L !== undefined) return v.L.some(valueHasBinary);
  return false;
}

function mapHasBinary(map: Record<string, AttributeValue>): boolean {
  return Object.values(map).some(valueHasBinary);
}

function requestsHaveBinary(input: BatchWriteItemCommandInput): boolean {
  for (const requests of Object.values(input.RequestItems ?? {}))
    for (const r of requests) {
      const map = r.PutRequest?.Item ?? r.DeleteRequest?.Key;
      if (map && mapHasBinary(map)) return true;
    }
  return false;
}

/**
 * The request body DynamoDB receives for `input` (JSON 1.0 protocol: the input object as JSON).
 * A replacer slows JSON.stringify down for every value, so it is used only when a binary is there.
 */
export function batchWriteBody(input: BatchWriteItemCommandInput): string {
  return requestsHaveBinary(input) ? JSON.stringify(input, binaryAsBase64) : JSON.stringify(input);
}

/** The input with its tables and no writes: what the SDK's serializer is given instead. */
function shellOf(input: BatchWriteItemCommandInput): BatchWriteItemCommandInput {
  const tables = Object.keys(input.RequestItems ?? {});
  return { ...input, RequestItems: Object.fromEntries(tables.map((t) => [t, []])) };
}

/**
 * `new BatchWriteItemCommand(input)`, sent with the body `batchWriteBody` writes from the input
 * as it reaches the serialize step (middleware before it may change the input, e.g. a test's fault
 * injection). After that step the SDK sees a shell of the input with the same tables and no writes.
 */
export function batchWriteCommand(input: BatchWriteItemCommandInput): BatchWriteItemCommand {
  const command = new BatchWriteItemCommand(input);
  let body: string | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      const full = args.input as BatchWriteItemCommandInput;
      body = batchWriteBody(full);
      return next({ ...args, input: shellOf(full) });
    },
    // Before the SDK's serializer (same step, lower priority).
    { step: 'serialize', priority: 'high', name: `${NAME}Input` },
  );
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown; headers?: Record<string, string> } | undefined;
      if (request?.headers && body !== undefined) {
        request.body = body;
        delete request.headers['Content-Length'];
        request.headers['content-length'] = String(Buffer.byteLength(body));
      }
      return next(args);
    },
    // Before the content length is taken and the request signed (both read the body).
    { step: 'build', priority: 'high', name: NAME },
  );
  return command;
}
