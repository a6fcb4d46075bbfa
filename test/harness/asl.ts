/**
 * A small Amazon States Language interpreter for the states a synthesized state machine uses:
 * Task (a Lambda resource, with Parameters, ResultPath, Retry and Catch), Pass (Parameters or Result, ResultPath), Choice
 * (BooleanEquals, StringEquals, IsPresent), Wait (Seconds: recorded, not slept), Map (ItemsPath, ItemSelector, ItemProcessor, MaxConcurrency, ResultPath),
 * Succeed and Fail (Error or ErrorPath, CausePath with States.JsonToString). It runs the definition's steps in
 * order through in-process handlers, so a test drives the real definition against real components.
 * Retry waits are recorded, not slept (no test depends on time). Anything else is refused loudly.
 */

export type AslHandler = (payload: unknown) => Promise<unknown>;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
}

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: unknown;
  Result?: unknown;
  ResultPath?: string;
  Retry?: Retrier[];
  Catch?: { ErrorEquals: string[]; ResultPath?: string; Next: string }[];
  Choices?: {
    Variable: string;
    BooleanEquals?: boolean;
    StringEquals?: string;
    IsPresent?: boolean;
    Next: string;
  }[];
  Default?: string;
  ItemsPath?: string;
  ItemSelector?: unknown;
  ItemProcessor?: Machine;
  MaxConcurrency?: number;
  Error?: string;
  ErrorPath?: string;
  CausePath?: string;
  Seconds?: number;
}

export interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

export interface AslRun {
  /** Every state entered, in order; Map children as `<state>[<index>]/<child state>`. */
  readonly trace: string[];
  /** Each retry's wait in seconds, by state. */
  readonly retryWaits: { state: string; seconds: number; error: string }[];
}

export class StatesError extends Error {
  readonly error: string;
  override readonly cause: string;

  constructor(error: string, cause: string) {
    super(`${error}: ${cause}`);
    this.error = error;
    this.cause = cause;
  }
}

interface Context {
  Execution: { Name: string };
  Map?: { Item: { Index: number; Value: unknown } };
}

/** A JSONPath of the forms the definition uses: $.a.b, $.a[0], $$.x.y, $.a[?(@.b)]. */
export function readPath(path: string, input: unknown, context: Context): unknown {
  let value: unknown = path.startsWith('$$') ? context : input;
  const rest = path.replace(/^\$\$?/, '');
  const parts = rest.match(/\.[^.[]+|\[[^\]]+\]/g) ?? [];
  for (const part of parts) {
    if (part.startsWith('.')) {
      value =
        value === null || typeof value !== 'object'
          ? undefined
          : (value as Record<string, unknown>)[part.slice(1)];
      continue;
    }
    const filter = /^\[\?\(@\.([A-Za-z0-9_]+)\)\]$/.exec(part);
    if (filter) {
      const name = filter[1] as string;
      value = Array.isArray(value)
        ? value.filter((v) => v !== null && typeof v === 'object' && name in (v as object))
        : undefined;
      continue;
    }
    const index = /^\[(\d+)\]$/.exec(part);
    if (!index) throw new Error(`asl: path part ${part} of ${path} is not supported`);
    value = Array.isArray(value) ? value[Number(index[1])] : undefined;
  }
  return value;
}

function required(path: string, input: unknown, context: Context): unknown {
  const value = readPath(path, input, context);
  if (value === undefined) throw new StatesError('States.Runtime', `the JSONPath ${path} matched nothing`);
  return value;
}

/** Parameters / ItemSelector: `.$` keys read a path (or call States.JsonToString); the rest is copied. */
function build(template: unknown, input: unknown, context: Context): unknown {
  if (Array.isArray(template)) return template.map((t) => build(t, input, context));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = evaluate(value as string, input, context);
    else out[key] = build(value, input, context);
  }
  return out;
}

function evaluate(expression: string, input: unknown, context: Context): unknown {
  const json = /^States\.JsonToString\((.+)\)$/.exec(expression);
  if (json) return JSON.stringify(required(json[1] as string, input, context));
  if (expression.startsWith('States.')) throw new Error(`asl: intrinsic ${expression} is not supported`);
  return required(expression, input, context);
}

function setPath(input: unknown, path: string | undefined, result: unknown): unknown {
  if (path === undefined || path === '$') return result;
  const keys = path.replace(/^\$\./, '').split('.');
  const copy = { ...(input as Record<string, unknown>) };
  let at: Record<string, unknown> = copy;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) at[k] = result;
    else at = at[k] = { ...(at[k] as Record<string, unknown>) };
  });
  return copy;
}

const matches = (names: string[], error: string) => names.includes(error) || names.includes('States.ALL');

export class AslInterpreter {
  readonly trace: string[] = [];
  readonly retryWaits: AslRun['retryWaits'] = [];
  /** Each Wait state's wait in seconds (recorded, not slept). */
  readonly waits: { state: string; seconds: number }[] = [];

  constructor(private readonly handlers: Record<string, AslHandler>) {}

  /** Runs `machine` on `input` as execution `name`; resolves with its output or rejects with a StatesError. */
  async run(machine: Machine, input: unknown, name: string): Promise<unknown> {
    return this.runMachine(machine, input, { Execution: { Name: name } }, '');
  }

  private async runMachine(
    machine: Machine,
    input: unknown,
    context: Context,
    prefix: string,
  ): Promise<unknown> {
    let name: string | undefined = machine.StartAt;
    let data = input;
    while (name !== undefined) {
      const state: State | undefined = machine.States[name];
      if (!state) throw new Error(`asl: no state ${name}`);
      this.trace.push(prefix + name);
      const { output, next } = await this.step(name, state, data, context, prefix);
      data = output;
      name = next;
    }
    return data;
  }

  private async step(
    name: string,
    state: State,
    input: unknown,
    context: Context,
    prefix: string,
  ): Promise<{ output: unknown; next: string | undefined }> {
    const next = state.End ? undefined : state.Next;
    switch (state.Type) {
      case 'Pass': {
        const result =
          state.Result !== undefined
            ? state.Result
            : state.Parameters === undefined
              ? input
              : build(state.Parameters, input, context);
        return { output: setPath(input, state.ResultPath, result), next };
      }
      case 'Task':
        return this.task(name, state, input, context, prefix);
      case 'Choice': {
        const choice = state.Choices?.find((c) => {
          const value = readPath(c.Variable, input, context);
          if (c.IsPresent !== undefined) return (value !== undefined) === c.IsPresent;
          if (c.BooleanEquals !== undefined) return value === c.BooleanEquals;
          if (c.StringEquals !== undefined) return value === c.StringEquals;
          throw new Error(`asl: choice rule ${JSON.stringify(c)} is not supported`);
        });
        return { output: input, next: choice?.Next ?? state.Default };
      }
      case 'Map':
        return {
          output: setPath(input, state.ResultPath, await this.map(name, state, input, context, prefix)),
          next,
        };
      case 'Wait':
        if (state.Seconds === undefined) throw new Error(`asl: wait ${name} has no Seconds`);
        this.waits.push({ state: prefix + name, seconds: state.Seconds });
        return { output: input, next };
      case 'Succeed':
        return { output: input, next: undefined };
      case 'Fail':
        throw new StatesError(
          state.ErrorPath
            ? String(evaluate(state.ErrorPath, input, context))
            : (state.Error ?? 'States.Fail'),
          state.CausePath ? String(evaluate(state.CausePath, input, context)) : '',
        );
      default:
        throw new Error(`asl: state type ${state.Type} is not supported`);
    }
  }

  private async task(
    name: string,
    state: State,
    input: unknown,
    context: Context,
    prefix: string,
  ): Promise<{ output: unknown; next: string | undefined }> {
    const handler = this.handlers[state.Resource ?? ''];
    if (!handler) throw new Error(`asl: no handler for resource ${state.Resource}`);
    const payload = state.Parameters === undefined ? input : build(state.Parameters, input, context);
    const attempts = new Map<Retrier, number>();
    for (;;) {
      try {
        const result = await handler(payload);
        return { output: setPath(input, state.ResultPath, result), next: state.End ? undefined : state.Next };
      } catch (thrown) {
        const error = thrown instanceof StatesError ? thrown.error : (thrown as Error).name || 'Error';
        const cause =
          thrown instanceof StatesError
            ? thrown.cause
            : JSON.stringify({ errorMessage: (thrown as Error).message });
        // The first retrier whose ErrorEquals matches decides (ASL), with its own attempt count.
        const retrier = state.Retry?.find((r) => matches(r.ErrorEquals, error));
        const done = retrier ? (attempts.get(retrier) ?? 0) : 0;
        if (retrier && done < (retrier.MaxAttempts ?? 3)) {
          attempts.set(retrier, done + 1);
          const wait = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** done;
          this.retryWaits.push({
            state: prefix + name,
            seconds: Math.min(wait, retrier.MaxDelaySeconds ?? Infinity),
            error,
          });
          continue;
        }
        const catcher = state.Catch?.find((c) => matches(c.ErrorEquals, error));
        if (!catcher) throw new StatesError(error, cause);
        return {
          output: setPath(input, catcher.ResultPath, { Error: error, Cause: cause }),
          next: catcher.Next,
        };
      }
    }
  }

  private async map(
    name: string,
    state: State,
    input: unknown,
    context: Context,
    prefix: string,
  ): Promise<unknown[]> {
    const items = required(state.ItemsPath ?? '$', input, context);
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', `${state.ItemsPath} is not an array`);
    const processor = state.ItemProcessor;
    if (!processor) throw new Error(`asl: map ${name} has no ItemProcessor`);
    const results: unknown[] = new Array(items.length);
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < items.length) {
        const index = nextIndex++;
        const itemContext: Context = { ...context, Map: { Item: { Index: index, Value: items[index] } } };
        const itemInput = state.ItemSelector ? build(state.ItemSelector, input, itemContext) : items[index];
        results[index] = await this.runMachine(
          processor,
          itemInput,
          itemContext,
          `${prefix}${name}[${index}]/`,
        );
      }
    };
    const concurrency = Math.max(1, Math.min(state.MaxConcurrency || items.length, items.length));
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }
}
