/**
 * Fault injection for faults DynamoDB Local cannot produce: it never leaves items unprocessed or
 * keys unread, so these client middlewares take writes/keys out of a request before it is sent and
 * hand them back in UnprocessedItems/UnprocessedKeys, exactly as a throttled DynamoDB table does.
 * Everything else goes to the real server.
 */
import type {
  BatchGetItemCommandInput,
  BatchGetItemCommandOutput,
  BatchWriteItemCommandInput,
  BatchWriteItemCommandOutput,
  DynamoDBClient,
  KeysAndAttributes,
  WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { Key } from '../../src/core/types.js';

export interface RecordedRequest {
  readonly table: string;
  readonly keys: readonly Key[];
}

function requestKey(r: WriteRequest, keyNames: readonly string[]): Key {
  const source = (r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {}) as Key;
  return Object.fromEntries(keyNames.map((n) => [n, source[n]])) as Key;
}

/**
 * For BatchWriteItem: `hold(table, key)` true leaves that write unprocessed in this request.
 * `onRequest` sees every BatchWriteItem request as sent (after holding), e.g. to check for
 * duplicate keys.
 */
export function injectUnprocessedItems(
  client: DynamoDBClient,
  keyNames: readonly string[],
  hold: (table: string, key: Key) => boolean,
  onRequest?: (requests: readonly RecordedRequest[]) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchWriteItemCommand') return next(args);
      const input = args.input as BatchWriteItemCommandInput;
      const send: Record<string, WriteRequest[]> = {};
      const held: Record<string, WriteRequest[]> = {};
      for (const [table, requests] of Object.entries(input.RequestItems ?? {})) {
        for (const r of requests) {
          const target = hold(table, requestKey(r, keyNames)) ? held : send;
          (target[table] ??= []).push(r);
        }
      }
      onRequest?.(
        Object.entries(send).map(([table, rs]) => ({ table, keys: rs.map((r) => requestKey(r, keyNames)) })),
      );
      if (Object.keys(send).length === 0) {
        const output: BatchWriteItemCommandOutput = {
          $metadata: {},
          UnprocessedItems: held,
          ConsumedCapacity: [],
        };
        return { output, response: {} };
      }
      const result = await next({ ...args, input: { ...input, RequestItems: send } });
      const output = result.output as BatchWriteItemCommandOutput;
      const unprocessed = { ...output.UnprocessedItems };
      for (const [table, rs] of Object.entries(held))
        unprocessed[table] = [...(unprocessed[table] ?? []), ...rs];
      output.UnprocessedItems = unprocessed;
      return result;
    },
    { step: 'initialize', name: 'injectUnprocessedItems' },
  );
}

/** For BatchGetItem: `hold(table, key)` true leaves that key unread (in UnprocessedKeys) in this request. */
export function injectUnprocessedKeys(
  client: DynamoDBClient,
  hold: (table: string, key: Key) => boolean,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchGetItemCommand') return next(args);
      const input = args.input as BatchGetItemCommandInput;
      const send: Record<string, KeysAndAttributes> = {};
      const held: Record<string, KeysAndAttributes> = {};
      for (const [table, ka] of Object.entries(input.RequestItems ?? {})) {
        for (const key of ka.Keys ?? []) {
          const target = hold(table, key as Key) ? held : send;
          const entry = (target[table] ??= { ...ka, Keys: [] });
          entry.Keys?.push(key);
        }
      }
      if (Object.keys(send).length === 0) {
        const output: BatchGetItemCommandOutput = {
          $metadata: {},
          Responses: {},
          UnprocessedKeys: held,
          ConsumedCapacity: [],
        };
        return { output, response: {} };
      }
      const result = await next({ ...args, input: { ...input, RequestItems: send } });
      const output = result.output as BatchGetItemCommandOutput;
      output.UnprocessedKeys = { ...output.UnprocessedKeys, ...held };
      return result;
    },
    { step: 'initialize', name: 'injectUnprocessedKeys' },
  );
}
