/**
 * A fault-injecting HTTP proxy for the reliability suite. It sits between the code under test and a
 * real DynamoDB Local (or s3rver) endpoint on 127.0.0.1 and, by rule and probability (seeded, so a
 * run can be repeated), injects the faults those servers never produce on their own: delays,
 * connections dropped mid-request, 500/503 answers, ProvisionedThroughputExceededException /
 * ThrottlingException, DynamoDB Streams' ExpiredIteratorException / LimitExceededException /
 * TrimmedDataAccessException, and
 * partial UnprocessedItems / UnprocessedKeys. `down()` closes the port so
 * connections are refused (an outage); `up()` reopens it on the same port.
 *
 * Every injected fault is counted, so a test can assert that its faults really fired.
 *
 * Partial batches: the proxy forwards a reduced BatchWriteItem / BatchGetItem body upstream and
 * answers with the held-back part added as unprocessed. The request's SigV4 signature then no
 * longer matches the body; DynamoDB Local does not verify signatures (checked by the proxy's own
 * test), so this only works in front of DynamoDB Local — which is the point: real DynamoDB produces
 * these answers itself.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after } from 'node:test';
import { crc32 } from 'node:zlib';

export type Fault =
  | { readonly kind: 'delay'; readonly ms: number }
  /** Destroy the connection without an answer; with `afterForward` only once upstream has processed it. */
  | { readonly kind: 'drop'; readonly afterForward?: boolean }
  | { readonly kind: 'status'; readonly status: 500 | 503 }
  | {
      readonly kind: 'throttle';
      readonly error: 'ProvisionedThroughputExceededException' | 'ThrottlingException';
    }
  /** Answer 400 with this DynamoDB Streams error (the request is not forwarded). */
  | {
      readonly kind: 'stream-error';
      readonly error: 'ExpiredIteratorException' | 'LimitExceededException' | 'TrimmedDataAccessException';
    }
  /**
   * Answer 200 with what `answer` returns (or resolves to) for the request's operation and JSON
   * input, without forwarding it: stands in for a behaviour of the real service the emulator lacks
   * (shard splits, exports). A ServedError answers 400 with that DynamoDB error instead.
   */
  | {
      readonly kind: 'serve';
      readonly answer: (operation: string, input: Record<string, unknown>) => unknown;
    }
  /** BatchWriteItem / BatchGetItem: hold back each write / key with probability `fraction`. */
  | { readonly kind: 'unprocessed'; readonly fraction: number };

/** What a `serve` answer returns to make the proxy answer with a DynamoDB error (HTTP 400). */
export class ServedError {
  constructor(
    readonly type: string,
    readonly message: string,
  ) {}
}

export interface FaultRule {
  /** DynamoDB operation (the X-Amz-Target suffix, e.g. "BatchWriteItem"); a RegExp tests it. */
  readonly operation?: string | RegExp;
  /** HTTP method (S3: "PUT"). */
  readonly method?: string;
  /** Tested against the request path (S3: /bucket/key). */
  readonly path?: RegExp;
  /** Chance this rule fires for a matching request (default 1). */
  readonly probability?: number;
  /** Fires at most this many times (default: no limit). */
  readonly times?: number;
  readonly fault: Fault;
  /** Only for these keys (BatchWriteItem held-back writes): a write whose key matches is always held. */
  readonly holdKey?: (table: string, key: Record<string, unknown>) => boolean;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Replaces the rules (the first matching rule whose probability fires is applied). */
  setRules(rules: readonly FaultRule[]): void;
  /** Faults injected so far, by kind ("throttle", "unprocessed", ...) and by "<operation>:<kind>". */
  readonly counts: Readonly<Record<string, number>>;
  /** Total injected faults (of `kind` if given). */
  injected(kind?: Fault['kind']): number;
  /** Requests seen, by operation (or METHOD for non-DynamoDB requests). */
  readonly requests: Readonly<Record<string, number>>;
  /** Requests seen, by the access key id that signed them (SigV4 Authorization header). */
  readonly signedBy: Readonly<Record<string, number>>;
  /** Refuse connections (closes the listening socket and every open connection). */
  down(): Promise<void>;
  /** Accept connections again on the same port. */
  up(): Promise<void>;
  readonly isDown: boolean;
  stop(): Promise<void>;
}

/** The access key id that signed a request (from its SigV4 Authorization header), or "unsigned". */
export function signerOf(req: http.IncomingMessage): string {
  return /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'unsigned';
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ERROR_TYPES = {
  ProvisionedThroughputExceededException:
    'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  ThrottlingException: 'com.amazon.coral.availability#ThrottlingException',
  ExpiredIteratorException: 'com.amazonaws.dynamodb.v20120810#ExpiredIteratorException',
  LimitExceededException: 'com.amazonaws.dynamodb.v20120810#LimitExceededException',
  TrimmedDataAccessException: 'com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException',
} as const;

function operationOf(req: http.IncomingMessage): string | undefined {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : undefined;
}

function matches(rule: FaultRule, req: http.IncomingMessage, operation: string | undefined): boolean {
  if (rule.operation !== undefined) {
    if (operation === undefined) return false;
    if (typeof rule.operation === 'string' ? rule.operation !== operation : !rule.operation.test(operation))
      return false;
  }
  if (rule.method !== undefined && rule.method !== req.method) return false;
  if (rule.path !== undefined && !rule.path.test(req.url ?? '')) return false;
  return true;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function forward(target: URL, req: http.IncomingMessage, body: Buffer): Promise<Upstream> {
  // Headers go through unchanged (Host included), so S3 signatures made for the proxy still verify.
  const headers = { ...req.headers, 'content-length': String(body.length) };
  return new Promise((resolve, reject) => {
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false },
      (res) => {
        readBody(res).then(
          (b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }),
          reject,
        );
      },
    );
    up.on('error', reject);
    up.end(body);
  });
}

function send(
  res: http.ServerResponse,
  status: number,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
): void {
  const out: http.OutgoingHttpHeaders = { ...headers, 'content-length': String(body.length) };
  delete out['transfer-encoding'];
  delete out.connection;
  res.writeHead(status, out);
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  send(
    res,
    status,
    { 'content-type': 'application/x-amz-json-1.0', 'x-amz-crc32': String(crc32(body)) },
    body,
  );
}

type Json = Record<string, unknown>;

/** Splits a batch request's RequestItems into the part sent upstream and the part held back. */
function splitBatch(
  operation: 'BatchWriteItem' | 'BatchGetItem',
  input: Json,
  hold: (table: string, entry: unknown) => boolean,
): { send: Json; held: Json; heldCount: number } {
  const send: Json = {};
  const held: Json = {};
  let heldCount = 0;
  for (const [table, value] of Object.entries((input.RequestItems ?? {}) as Json)) {
    if (operation === 'BatchWriteItem') {
      for (const w of value as unknown[]) {
        const h = hold(table, w);
        if (h) heldCount++;
        (((h ? held : send)[table] ??= []) as unknown[]).push(w);
      }
    } else {
      const ka = value as Json;
      for (const k of (ka.Keys ?? []) as unknown[]) {
        const h = hold(table, k);
        if (h) heldCount++;
        const target = h ? held : send;
        ((target[table] ??= { ...ka, Keys: [] }) as { Keys: unknown[] }).Keys.push(k);
      }
    }
  }
  return { send, held, heldCount };
}

function writeKeySource(entry: unknown): Record<string, unknown> {
  const w = entry as { PutRequest?: { Item?: Json }; DeleteRequest?: { Key?: Json } };
  return w.PutRequest?.Item ?? w.DeleteRequest?.Key ?? (entry as Json);
}

/** Starts the proxy in front of `upstream` (http://host:port). Stopped after the test file. */
export async function startFaultProxy(
  upstream: string,
  options: { seed?: number; rules?: readonly FaultRule[]; asAccessKey?: string } = {},
): Promise<FaultProxy> {
  const target = new URL(upstream);
  const random = seededRandom(options.seed ?? 1);
  let rules: readonly FaultRule[] = options.rules ?? [];
  const counts: Record<string, number> = {};
  const requests: Record<string, number> = {};
  const signedBy: Record<string, number> = {};
  const sockets = new Set<Socket>();
  const fired = new WeakMap<FaultRule, number>();
  let isDown = false;

  const count = (operation: string, kind: string): void => {
    counts[kind] = (counts[kind] ?? 0) + 1;
    counts[`${operation}:${kind}`] = (counts[`${operation}:${kind}`] ?? 0) + 1;
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const operation = operationOf(req);
    const label = operation ?? req.method ?? 'UNKNOWN';
    requests[label] = (requests[label] ?? 0) + 1;
    const signer = signerOf(req);
    signedBy[signer] = (signedBy[signer] ?? 0) + 1;
    // DynamoDB Local keeps one database per access key and checks no signature: present requests
    // signed with other keys (assumed-role sessions) as the tests' key, so they reach its tables.
    if (options.asAccessKey && req.headers.authorization)
      req.headers.authorization = req.headers.authorization.replace(
        /Credential=[^/]+\//,
        `Credential=${options.asAccessKey}/`,
      );
    const rule = rules.find(
      (r) =>
        matches(r, req, operation) &&
        (fired.get(r) ?? 0) < (r.times ?? Infinity) &&
        random() < (r.probability ?? 1),
    );
    if (rule) fired.set(rule, (fired.get(rule) ?? 0) + 1);
    const fault = rule?.fault;
    if (!fault) {
      const up = await forward(target, req, body);
      send(res, up.status, up.headers, up.body);
      return;
    }
    switch (fault.kind) {
      case 'delay': {
        count(label, 'delay');
        await new Promise((r) => setTimeout(r, fault.ms));
        const up = await forward(target, req, body);
        send(res, up.status, up.headers, up.body);
        return;
      }
      case 'drop':
        count(label, 'drop');
        if (fault.afterForward) await forward(target, req, body);
        req.socket.destroy();
        return;
      case 'status': {
        count(label, 'status');
        if (operation) {
          const type = fault.status === 503 ? 'ServiceUnavailable' : 'InternalServerError';
          sendJson(res, fault.status, {
            __type: `com.amazonaws.dynamodb.v20120810#${type}`,
            message: 'injected',
          });
        } else {
          const code = fault.status === 503 ? 'SlowDown' : 'InternalError';
          const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected</Message></Error>`;
          send(res, fault.status, { 'content-type': 'application/xml' }, Buffer.from(xml));
        }
        return;
      }
      case 'throttle':
        count(label, 'throttle');
        sendJson(res, 400, {
          __type: ERROR_TYPES[fault.error],
          message: 'injected: the level of configured provisioned throughput for the table was exceeded',
        });
        return;
      case 'stream-error':
        count(label, 'stream-error');
        sendJson(res, 400, { __type: ERROR_TYPES[fault.error], message: `injected: ${fault.error}` });
        return;
      case 'serve': {
        count(label, 'serve');
        const answer: unknown = await fault.answer(label, JSON.parse(body.toString('utf8') || '{}') as Json);
        if (answer instanceof ServedError)
          sendJson(res, 400, {
            __type: `com.amazonaws.dynamodb.v20120810#${answer.type}`,
            message: answer.message,
          });
        else sendJson(res, 200, answer);
        return;
      }
      case 'unprocessed': {
        if (operation !== 'BatchWriteItem' && operation !== 'BatchGetItem') {
          const up = await forward(target, req, body);
          send(res, up.status, up.headers, up.body);
          return;
        }
        const input = JSON.parse(body.toString('utf8')) as Json;
        const split = splitBatch(operation, input, (table, entry) =>
          rule.holdKey ? rule.holdKey(table, writeKeySource(entry)) : random() < fault.fraction,
        );
        const unprocessedField = operation === 'BatchWriteItem' ? 'UnprocessedItems' : 'UnprocessedKeys';
        if (split.heldCount > 0)
          counts.unprocessedEntries = (counts.unprocessedEntries ?? 0) + split.heldCount;
        if (split.heldCount > 0) count(label, 'unprocessed');
        if (Object.keys(split.send).length === 0) {
          sendJson(res, 200, {
            ...(operation === 'BatchGetItem' ? { Responses: {} } : {}),
            [unprocessedField]: split.held,
          });
          return;
        }
        const up = await forward(
          target,
          req,
          Buffer.from(JSON.stringify({ ...input, RequestItems: split.send })),
        );
        if (up.status !== 200) {
          send(res, up.status, up.headers, up.body);
          return;
        }
        const output = JSON.parse(up.body.toString('utf8')) as Json;
        const unprocessed = { ...((output[unprocessedField] ?? {}) as Json) };
        for (const [table, part] of Object.entries(split.held)) {
          const existing = unprocessed[table];
          if (operation === 'BatchWriteItem')
            unprocessed[table] = [...((existing as unknown[]) ?? []), ...(part as unknown[])];
          else {
            const p = part as { Keys: unknown[] };
            unprocessed[table] = existing
              ? {
                  ...(existing as Json),
                  Keys: [...((existing as { Keys: unknown[] }).Keys ?? []), ...p.Keys],
                }
              : p;
          }
        }
        sendJson(res, 200, { ...output, [unprocessedField]: unprocessed });
        return;
      }
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      // Upstream unreachable (or a dropped client): answer like a dead gateway; the client retries.
      if (!res.headersSent && !req.socket.destroyed) send(res, 502, {}, Buffer.from('bad gateway'));
      else req.socket.destroy();
    });
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  let stopped = false;
  const proxy: FaultProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    setRules(next) {
      rules = next;
    },
    counts,
    requests,
    signedBy,
    injected(kind) {
      if (kind) return counts[kind] ?? 0;
      return (['delay', 'drop', 'status', 'throttle', 'stream-error', 'unprocessed'] as const).reduce(
        (n, k) => n + (counts[k] ?? 0),
        0,
      );
    },
    async down() {
      if (isDown) return;
      isDown = true;
      count('*', 'down');
      await close();
    },
    async up() {
      if (!isDown) return;
      await listen(port);
      isDown = false;
    },
    get isDown() {
      return isDown;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!isDown) await close();
    },
  };
  after(() => proxy.stop());
  return proxy;
}
