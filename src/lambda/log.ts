/**
 * Structured logs for the Lambda handlers: one JSON object per line (CloudWatch Logs Insights reads
 * the fields), with a correlation id per batch. Messages carry keys, counts and timings; item values
 * only at debug level, which the caller checks with `isDebug` before building them. Credentials
 * inside URLs are redacted from every line.
 */
import { redactUrls } from '../core/redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LogLevel;
  readonly isDebug: boolean;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger adding `fields` (e.g. the correlation id) to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; default stdout, which Lambda sends to CloudWatch Logs. */
  readonly write?: (line: string) => void;
  readonly fields?: LogFields;
}

/** Errors become name + message (+ stack at debug level); everything else is passed to JSON. */
function serializable(value: unknown, debug: boolean): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(debug && value.stack ? { stack: value.stack } : {}),
    };
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const base = options.fields ?? {};
  const debug = level === 'debug';
  const emit = (at: LogLevel, message: string, fields?: LogFields): void => {
    if (RANK[at] < RANK[level]) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), level: at, message, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) line[k] = serializable(v, debug);
    // Error messages may quote an endpoint (ours or the SDK's): credentials in URLs are redacted.
    write(redactUrls(JSON.stringify(line)));
  };
  return {
    level,
    isDebug: debug,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, write, fields: { ...base, ...fields } }),
  };
}
