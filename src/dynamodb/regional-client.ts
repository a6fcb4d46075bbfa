/**
 * A DynamoDB client over a group of tables in several regions, accounts or endpoints (the members):
 * reads go to the first healthy member in preference order and fail over to the next on errors and
 * timeouts; writes go to one member (the home of a one-way group, the local member of a multi-active
 * group). Each member has a circuit breaker (core/circuit-breaker.ts) fed by the requests and by a
 * background health probe, so reads come back to a preferred member once it recovers. Every answer
 * says which member served it (`servedBy`).
 *
 * What fails a request over (a member failure): a network error, a deadline (`deadlineMs` per
 * member, the SDK's own retries included), a 5xx answer, throttling that the SDK's retries did not
 * absorb, and credentials that could not be obtained for the member. Anything else (validation,
 * a failed condition, a missing table) is the member's answer and reaches the caller unchanged, as
 * the SDK raised it.
 *
 * Writes never move silently in a one-way group: a write while the home member is unavailable fails
 * with MemberUnavailableError. In a multi-active group a write goes to the local member and, while
 * the local member's breaker is open (so the write is certainly not sent to it), to the next healthy
 * member in preference order; a write that failed after it was sent is never re-sent elsewhere, since
 * it may have been applied.
 *
 * The client is a DynamoDBClient whose first middleware answers every command through a member's
 * client (the command's own middleware included), so `DynamoDBDocumentClient.from()` of
 * `@aws-sdk/lib-dynamodb` wraps it like any other client.
 */
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  type $Command,
  type DynamoDBClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-dynamodb';
import {
  CircuitBreaker,
  readOrder,
  resolveBreakerOptions,
  usable,
  type BreakerOptions,
  type BreakerState,
  type BreakerTransition,
} from '../core/circuit-breaker.js';
import {
  MemberUnavailableError,
  NetworkTimeoutError,
  ReplicatorError,
  UsageError,
  type MemberFailure,
} from '../core/errors.js';
import { isNetworkTimeout } from '../core/network.js';
import { redactUrls } from '../core/redact.js';
import {
  logicalOutput,
  memberInput,
  requestTables,
  ROUTED_OPERATIONS,
  routeOf,
  type TableNameMap,
} from '../core/regional-routing.js';
import { REGIONAL_MEMBER_ATTEMPTS } from '../core/retry-policies.js';
import type { Key } from '../core/types.js';
import { createDynamoClient, type ClientOptions } from './client.js';
import { isThrottlingError, translateSdkError } from './sdk-errors.js';
import { resolveMembers, type MembersInput, type MemberSpec } from '../core/regional-members.js';

export type { RegionalMember } from '../core/regional-members.js';

export interface ProbeOptions {
  /** Time between two probes of a member. Default 2 s. */
  readonly intervalMs: number;
  /** Deadline of one probe. Default 2 s. */
  readonly deadlineMs: number;
  /** Logical table the probe reads; default: the client's `table`. */
  readonly table?: string;
  /**
   * With a key, the probe is an eventually consistent GetItem of it (0.5 read units) instead of a
   * DescribeTable (free of read units, but subject to the control plane's request rate).
   */
  readonly key?: Key;
}

export const DEFAULT_PROBE: ProbeOptions = { intervalMs: 2_000, deadlineMs: 2_000 };

/** Deadline of one request on one member, the SDK's retries included. */
export const DEFAULT_DEADLINE_MS = 3_000;

/** The members and the write member (see MembersInput), and how the client treats them. */
export interface RegionalClientOptions extends MembersInput {
  /** Deadline of one request on one member, the SDK's own retries included. Default 3 s. */
  readonly deadlineMs?: number;
  /** When a member's breaker opens and when it is tried again; defaults in DEFAULT_BREAKER. */
  readonly breaker?: Partial<BreakerOptions>;
  /**
   * The background health probe (defaults in DEFAULT_PROBE). `false`: no probe; then requests make
   * the trials of open breakers themselves.
   */
  readonly probe?: false | Partial<ProbeOptions>;
  /**
   * Options of each member's client (credentials, network deadlines). `maxAttempts` defaults to
   * REGIONAL_MEMBER_ATTEMPTS (3): the next member is the better retry.
   */
  readonly client?: ClientOptions;
  /** Called for every answer, member failure and breaker change. Must not throw. */
  readonly onEvent?: (event: RegionalEvent) => void;
}

export type RegionalEvent =
  /** A member answered (`failover`: it was not the first choice: preferred reader or write member). */
  | {
      readonly type: 'served';
      readonly member: string;
      readonly operation: string;
      readonly failover: boolean;
    }
  /** A member failed a request or a probe (the message names no secret). */
  | {
      readonly type: 'failure';
      readonly member: string;
      readonly operation: string;
      readonly source: 'request' | 'probe';
      readonly message: string;
    }
  /** A member's breaker changed state. */
  | {
      readonly type: 'state';
      readonly member: string;
      readonly from: BreakerState;
      readonly to: BreakerState;
      readonly failures: number;
    };

/** What every answer of the regional client carries besides the SDK's own fields. */
export interface Served {
  /** The name of the member that answered. */
  readonly servedBy: string;
}

export interface MemberHealth {
  readonly member: string;
  readonly state: BreakerState;
  readonly failures: number;
}

/**
 * The operation of a command, from the name the SDK gives it in the middleware context
 * (`GetItemCommand`): it survives minified bundles, and a document client's commands carry the
 * name of the DynamoDB command they wrap.
 */
function operationOf(commandName: unknown): string {
  const name = typeof commandName === 'string' ? commandName : '';
  return name.endsWith('Command') ? name.slice(0, -'Command'.length) : name;
}

/** Node's network error codes for a peer that is gone or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Whether an error means the member could not serve (fail over), rather than answered. */
export function isMemberFailure(error: unknown): boolean {
  if (error instanceof NetworkTimeoutError || error instanceof MemberUnavailableError) return true;
  if (!(error instanceof Error)) return true;
  // The SDK's abort when our deadline fired (a caller's own abort is handled before this).
  if (error.name === 'AbortError') return true;
  if (isThrottlingError(error) || isNetworkTimeout(error)) return true;
  const e = error as Error & { code?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.$fault === 'server' || (e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  // No usable credentials for this member (its profile, role or STS is unavailable).
  return error.name === 'CredentialsProviderError' || error instanceof ReplicatorError;
}

interface Member {
  readonly name: string;
  readonly client: DynamoDBClient;
  readonly names: TableNameMap;
  readonly breaker: CircuitBreaker;
  probing: boolean;
}

/** A command of @aws-sdk/client-dynamodb (or a document client's command wrapping one). */
type AnyCommand = $Command<ServiceInputTypes, ServiceOutputTypes, DynamoDBClientResolvedConfig>;
type RoutedCommand<I extends ServiceInputTypes, O extends ServiceOutputTypes> = $Command<
  I,
  O,
  DynamoDBClientResolvedConfig,
  ServiceInputTypes,
  ServiceOutputTypes
>;

/** What a command's handler takes and gives, as far as routing needs to see it. */
interface HandlerArgs {
  input: Record<string, unknown>;
  [ROUTE]?: { operation: string; names: TableNameMap };
}
type Handler = (args: HandlerArgs) => Promise<{ output: object; response?: unknown }>;
interface MiddlewareContext {
  commandName?: string;
  /** The SDK's per-request context (SMITHY_CONTEXT_KEY of @smithy/types): the command and the abort signal. */
  __smithy_context?: { commandInstance?: AnyCommand; abortSignal?: AbortSignal };
}

/** The member a document client's command is being sent to, for the table-name middleware. */
const ROUTE = Symbol('regionalRoute');
const ROUTING = 'regionalRouting';
const DOCUMENT_MARSHALL = 'DocumentMarshall';
const TABLE_NAMES = 'regionalTableNames';

/**
 * The regional client's own configuration: it never sends a request itself (its routing middleware
 * answers every command through a member's client), so nothing here is ever used on the network.
 */
const PLACEHOLDER_CONFIG = {
  region: 'regional',
  endpoint: 'http://regional.invalid',
  credentials: { accessKeyId: 'regional', secretAccessKey: 'regional' },
  maxAttempts: 1,
};

/**
 * `@aws-sdk/lib-dynamodb` commands marshal their input in a middleware (DocumentMarshall) that
 * replaces the input with the application's: the member's table names are put in after it.
 */
function renameAfterDocumentMarshall(command: AnyCommand): void {
  // Structural: the middleware below sees only what it needs.
  const stack = command.middlewareStack as unknown as {
    identify(): string[];
    addRelativeTo(middleware: (next: Handler) => Handler, options: Record<string, unknown>): void;
  };
  if (!stack.identify().some((m) => m.startsWith(DOCUMENT_MARSHALL))) return;
  stack.addRelativeTo(
    (next: Handler) => async (args: HandlerArgs) => {
      const route = args[ROUTE];
      return next(route ? { ...args, input: memberInput(route.operation, args.input, route.names) } : args);
    },
    { name: TABLE_NAMES, relation: 'after', toMiddleware: DOCUMENT_MARSHALL, override: true },
  );
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0)
    throw new UsageError(`${name} must be a positive number of milliseconds (got ${v})`);
  return v;
}

function resolveProbe(probe: RegionalClientOptions['probe']): ProbeOptions | undefined {
  if (probe === false) return undefined;
  const p = { ...DEFAULT_PROBE, ...probe };
  positive('probe.intervalMs', p.intervalMs, DEFAULT_PROBE.intervalMs);
  positive('probe.deadlineMs', p.deadlineMs, DEFAULT_PROBE.deadlineMs);
  return p;
}

/**
 * Runs `send` with an abort signal that fires after `ms` milliseconds; the call then fails with
 * NetworkTimeoutError at once (the SDK's own retry pauses do not watch the abort signal, so the
 * deadline does not wait for them).
 */
async function within<T>(
  ms: number,
  what: string,
  callerSignal: AbortSignal | undefined,
  send: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const signal = callerSignal ? AbortSignal.any([callerSignal, deadline.signal]) : deadline.signal;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new NetworkTimeoutError(`${what} passed its deadline of ${ms} ms`);
      deadline.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([send(signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The failover client: a DynamoDBClient whose requests are answered by its members (see the module
 * comment). Create it with createRegionalClient. `send` takes the commands of
 * `@aws-sdk/client-dynamodb` listed in ROUTED_OPERATIONS, and `DynamoDBDocumentClient.from()` of
 * `@aws-sdk/lib-dynamodb` wraps it like any DynamoDBClient. Its own `config` is a placeholder: the
 * members' clients hold the regions, endpoints and credentials.
 */
export class RegionalClient extends DynamoDBClient {
  /** Member names in read preference order. */
  readonly members: readonly string[];
  readonly mode: 'one-way' | 'multi-active';
  /** The member writes go to: the home (one-way) or local (multi-active) member. */
  readonly writeMember: string;
  readonly #members: readonly Member[];
  readonly #write: Member;
  readonly #deadlineMs: number;
  readonly #probe: ProbeOptions | undefined;
  readonly #probeTables: ReadonlyMap<Member, string | undefined>;
  readonly #onEvent: RegionalClientOptions['onEvent'];
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | undefined;

  /** @internal Use createRegionalClient. */
  constructor(options: RegionalClientOptions, specs: readonly MemberSpec[], write: number) {
    super(PLACEHOLDER_CONFIG);
    this.mode = options.mode ?? 'one-way';
    this.#deadlineMs = positive('deadlineMs', options.deadlineMs, DEFAULT_DEADLINE_MS);
    const breaker = resolveBreakerOptions(options.breaker);
    this.#probe = resolveProbe(options.probe);
    this.#onEvent = options.onEvent;
    const clientOptions: ClientOptions = {
      ...options.client,
      maxAttempts: options.client?.maxAttempts ?? REGIONAL_MEMBER_ATTEMPTS,
    };
    this.#members = specs.map((spec) => ({
      name: spec.name,
      client: createDynamoClient(spec.location, clientOptions),
      names: spec.names,
      breaker: new CircuitBreaker(breaker, Date.now),
      probing: false,
    }));
    this.#write = this.#members[write] as Member;
    this.members = this.#members.map((m) => m.name);
    this.writeMember = this.#write.name;
    const probeTable = this.#probe?.table ?? options.table;
    this.#probeTables = new Map(
      this.#members.map((m) => [
        m,
        probeTable === undefined ? undefined : (m.names.toMember.get(probeTable) ?? probeTable),
      ]),
    );
    // First of all middleware: the request never reaches this client's own serializer or sender.
    const stack = this.middlewareStack as unknown as {
      add(middleware: (next: Handler, context: MiddlewareContext) => Handler, options: object): void;
    };
    stack.add((_next, context) => (args) => this.#route(args, context), {
      step: 'initialize',
      priority: 'high',
      name: ROUTING,
    });
    if (this.#probe) this.#scheduleProbe(0);
  }

  // Only the type differs from DynamoDBClient's send: answers carry servedBy.
  override send<InputType extends ServiceInputTypes, OutputType extends ServiceOutputTypes>(
    command: RoutedCommand<InputType, OutputType>,
    options?: { abortSignal?: AbortSignal },
  ): Promise<OutputType & Served>;
  override send<InputType extends ServiceInputTypes, OutputType extends ServiceOutputTypes>(
    command: RoutedCommand<InputType, OutputType>,
    cb: (err: unknown, data?: OutputType & Served) => void,
  ): void;
  override send<InputType extends ServiceInputTypes, OutputType extends ServiceOutputTypes>(
    command: RoutedCommand<InputType, OutputType>,
    options: { abortSignal?: AbortSignal },
    cb: (err: unknown, data?: OutputType & Served) => void,
  ): void;
  override send(...args: unknown[]): Promise<unknown> | void {
    return (super.send as (...a: unknown[]) => Promise<unknown> | void)(...args);
  }

  /** The routing middleware: answers the command through a member, never calling `next`. */
  async #route(
    args: HandlerArgs,
    context: MiddlewareContext,
  ): Promise<{ output: object; response: unknown }> {
    if (this.#closing.signal.aborted) throw new UsageError('the regional client is closed');
    const operation = operationOf(context.commandName);
    const route = routeOf(operation);
    if (!route)
      throw new UsageError(
        `the regional client does not route ${operation || 'this command'}; it routes ` +
          `${ROUTED_OPERATIONS.join(', ')}. Send other operations with the client of one member: ` +
          'regional.member(name).',
      );
    const command = context.__smithy_context?.commandInstance;
    if (!command)
      throw new ReplicatorError(
        `the regional client cannot route ${operation}: this version of the AWS SDK does not give ` +
          'middleware the command being sent (context.__smithy_context.commandInstance)',
      );
    const request: Request = {
      operation,
      command,
      input: args.input,
      signal: context.__smithy_context?.abortSignal,
    };
    const output =
      route === 'read' ? await this.#read<object>(request) : await this.#writeTo<object>(request);
    return { output, response: undefined };
  }

  /** The DynamoDBClient of one member (by name), for operations the regional client does not route. */
  member(name: string): DynamoDBClient {
    const member = this.#members.find((m) => m.name === name);
    if (!member)
      throw new UsageError(`"${redactUrls(name)}" is not a member (members: ${this.members.join(', ')})`);
    return member.client;
  }

  /** Each member's breaker, in preference order. */
  health(): MemberHealth[] {
    return this.#members.map((m) => ({
      member: m.name,
      state: m.breaker.state,
      failures: m.breaker.failures,
    }));
  }

  /** Stops the health probe and releases every member's sockets. Requests after this fail. */
  close(): void {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    clearTimeout(this.#timer);
    for (const m of this.#members) m.client.destroy();
  }

  /** The same as close(), under DynamoDBClient's name. */
  override destroy(): void {
    this.close();
    super.destroy();
  }

  async #read<T>(request: Request): Promise<T & Served> {
    const takeTrials = this.#probe === undefined;
    const order = readOrder(
      this.#members.map((m) => m.breaker),
      takeTrials,
    );
    const failures: MemberFailure[] = [];
    let lastError: unknown;
    for (const index of order) {
      const member = this.#members[index] as Member;
      // Several reads may find the same trial due; only the one that starts it sends.
      if (member.breaker.trialDue && takeTrials && !this.#startTrial(member)) continue;
      const outcome = await this.#attempt<T>(member, request);
      if (outcome.ok) return this.#served(outcome.output, member, request.operation, index !== 0);
      failures.push({ member: member.name, message: outcome.message });
      lastError = outcome.error;
    }
    throw new MemberUnavailableError(
      `${describeRequest(request)} failed on every member: ${failureList(failures)}`,
      true,
      failures,
      { cause: lastError },
    );
  }

  async #writeTo<T>(request: Request): Promise<T & Served> {
    const takeTrials = this.#probe === undefined;
    const candidates =
      this.mode === 'one-way'
        ? [this.#write]
        : [this.#write, ...this.#members.filter((m) => m !== this.#write)];
    const member = candidates.find((m) => usable(m.breaker, takeTrials));
    if (!member || (!member.breaker.isClosed && !this.#startTrial(member))) throw this.#unsent(request);
    const outcome = await this.#attempt<T>(member, request);
    if (outcome.ok) return this.#served(outcome.output, member, request.operation, member !== this.#write);
    throw new MemberUnavailableError(
      `${describeRequest(request)} failed on member "${member.name}": ${outcome.message}. ` +
        'The write may or may not have been applied there; it was not sent to any other member.',
      true,
      [{ member: member.name, message: outcome.message }],
      { cause: outcome.error },
    );
  }

  /** The error for a write that no member could take: nothing was sent. */
  #unsent(request: Request): MemberUnavailableError {
    const home = this.#write;
    const why = `its circuit is ${home.breaker.state} after ${home.breaker.failures} consecutive failures`;
    const message =
      this.mode === 'one-way'
        ? `${describeRequest(request)} was not sent: the home member "${home.name}" is unavailable (${why}). ` +
          'A one-way group writes only to its home member and never fails a write over to another member.'
        : `${describeRequest(request)} was not sent: the local member "${home.name}" is unavailable (${why}) ` +
          'and no other member is healthy.';
    return new MemberUnavailableError(message, false, []);
  }

  /** One request on one member within the deadline; member failures are counted, other errors thrown. */
  async #attempt<T>(
    member: Member,
    request: Request,
  ): Promise<{ ok: true; output: T } | { ok: false; error: unknown; message: string }> {
    const { operation } = request;
    const startedAt = Date.now();
    try {
      const output = await within(
        this.#deadlineMs,
        `${operation} at member "${member.name}"`,
        request.signal,
        (signal) => viaMember(member, request, signal),
      );
      this.#record(member, true, startedAt);
      return { ok: true, output: logicalOutput(operation, output, member.names) as T };
    } catch (error) {
      if (request.signal?.aborted) throw error;
      if (!isMemberFailure(error)) {
        // The member answered: it is healthy, and the answer (e.g. a failed condition) is the caller's.
        this.#record(member, true, startedAt);
        if (error instanceof Error) Object.defineProperty(error, 'servedBy', { value: member.name });
        throw error;
      }
      this.#record(member, false, startedAt);
      const message = failureMessage(error, operation, member.name);
      this.#emit({ type: 'failure', member: member.name, operation, source: 'request', message });
      return { ok: false, error, message };
    }
  }

  #served<T>(output: T, member: Member, operation: string, failover: boolean): T & Served {
    this.#emit({ type: 'served', member: member.name, operation, failover });
    return Object.assign(output as object, { servedBy: member.name }) as T & Served;
  }

  #record(member: Member, ok: boolean, startedAt: number): void {
    const change = ok ? member.breaker.recordSuccess(startedAt) : member.breaker.recordFailure(startedAt);
    if (change) this.#emitState(member, change);
  }

  #startTrial(member: Member): boolean {
    const change = member.breaker.startTrial();
    if (change) this.#emitState(member, change);
    return change !== undefined;
  }

  #emitState(member: Member, change: BreakerTransition): void {
    this.#emit({ type: 'state', member: member.name, ...change });
  }

  #emit(event: RegionalEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch (error) {
      // A throwing observer must not fail requests, nor crash the process from the probe's timer.
      process.emitWarning(`regional client: onEvent threw: ${redactUrls(String(error))}`);
    }
  }

  #scheduleProbe(delayMs: number): void {
    if (!this.#probe || this.#closing.signal.aborted) return;
    this.#timer = setTimeout(() => {
      void this.#probeAll().finally(() => this.#scheduleProbe(this.#probe?.intervalMs ?? 0));
    }, delayMs);
    // The probe never keeps a process alive on its own.
    this.#timer.unref();
  }

  async #probeAll(): Promise<void> {
    await Promise.all(this.#members.map((m) => this.#probeMember(m)));
  }

  /** Probes a closed member, or an open one whose trial is due (the probe is then the trial). */
  async #probeMember(member: Member): Promise<void> {
    const probe = this.#probe;
    if (!probe || member.probing || this.#closing.signal.aborted) return;
    if (!member.breaker.isClosed && !this.#startTrial(member)) return;
    member.probing = true;
    const table = this.#probeTables.get(member);
    const command =
      table === undefined
        ? new ListTablesCommand({ Limit: 1 })
        : probe.key
          ? new GetItemCommand({ TableName: table, Key: probe.key })
          : new DescribeTableCommand({ TableName: table });
    const operation = table === undefined ? 'ListTables' : probe.key ? 'GetItem' : 'DescribeTable';
    const startedAt = Date.now();
    try {
      // No caller signal: close() destroys the member's client, which ends a probe in flight.
      await within(
        probe.deadlineMs,
        `the health probe (${operation}) of member "${member.name}"`,
        undefined,
        // `never`: one of three commands; only success or failure matters here.
        (signal) => member.client.send(command as never, { abortSignal: signal }),
      );
      this.#record(member, true, startedAt);
    } catch (error) {
      if (this.#closing.signal.aborted) return;
      this.#record(member, false, startedAt);
      const message = failureMessage(error, operation, member.name);
      this.#emit({ type: 'failure', member: member.name, operation, source: 'probe', message });
    } finally {
      member.probing = false;
    }
  }
}

interface Request {
  readonly operation: string;
  readonly command: AnyCommand;
  /** The input as the routing middleware received it (logical table names). */
  readonly input: Record<string, unknown>;
  readonly signal: AbortSignal | undefined;
}

/**
 * Sends the command through the member's client: its middleware (a document client's marshalling
 * included) with the member's stack, configuration and table names.
 */
async function viaMember(member: Member, request: Request, signal: AbortSignal): Promise<object> {
  const { command, operation } = request;
  renameAfterDocumentMarshall(command);
  const handler = command.resolveMiddleware(member.client.middlewareStack as never, member.client.config, {
    abortSignal: signal,
  }) as unknown as Handler;
  const { output } = await handler({
    input: memberInput(operation, request.input, member.names),
    [ROUTE]: { operation, names: member.names },
  });
  return output;
}

function describeRequest(request: Request): string {
  const tables = requestTables(request.operation, request.input);
  const on =
    tables.length === 0
      ? ''
      : ` on table${tables.length > 1 ? 's' : ''} ${tables.map((t) => `"${t}"`).join(', ')}`;
  return `${request.operation}${on}`;
}

function failureList(failures: readonly MemberFailure[]): string {
  return failures.map((f) => `"${f.member}": ${f.message}`).join('; ');
}

/** A member failure as a sentence naming the member and never a secret. */
export function failureMessage(error: unknown, operation: string, member: string): string {
  const translated = translateSdkError(error, { action: operation, location: `member "${member}"` });
  return redactUrls(translated.message);
}

/**
 * A DynamoDB client over a group of members: reads fail over between them, writes go to the home
 * (one-way) or local (multi-active) member, and every answer says which member served it. Options
 * are checked before any client is created (UsageError naming the problem).
 *
 * @example
 * const regional = createRegionalClient({
 *   members: ['eu-west-1/users', 'us-east-1/users', 'ap-southeast-2/users-ap'],
 *   home: 'us-east-1/users',
 * });
 * const { Item, servedBy } = await regional.send(new GetItemCommand({ TableName: 'users', Key }));
 * regional.close();
 */
export function createRegionalClient(options: RegionalClientOptions): RegionalClient {
  const { specs, write } = resolveMembers(options);
  return new RegionalClient(options, specs, write);
}
