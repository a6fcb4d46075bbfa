import { ConfigError } from '../core/errors.js';
import type { NetworkOptions } from '../core/network.js';
import { durationMs } from './duration.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables that change the network deadlines of every client a command creates. */
export const NETWORK_ENV = {
  connectTimeoutMs: 'DYNAMODB_REPLICATOR_CONNECT_TIMEOUT',
  idleTimeoutMs: 'DYNAMODB_REPLICATOR_IDLE_TIMEOUT',
  requestTimeoutMs: 'DYNAMODB_REPLICATOR_REQUEST_TIMEOUT',
} as const;

/**
 * The network options set in the environment: the three deadlines as durations (`500ms`, `5s`) and
 * the SDK's own AWS_MAX_ATTEMPTS. ConfigError naming the variable when a value is not valid.
 */
export function networkFromEnv(env: Env): Partial<NetworkOptions> {
  const out: { -readonly [K in keyof NetworkOptions]?: number } = {};
  for (const [field, name] of Object.entries(NETWORK_ENV) as [keyof typeof NETWORK_ENV, string][]) {
    const text = env[name]?.trim();
    if (!text) continue;
    const ms = durationMs(text);
    if (ms === undefined || ms < 1)
      throw new ConfigError(`${name} must be a duration such as 500ms, 5s or 1m, got "${text}"`);
    out[field] = ms;
  }
  const attempts = env.AWS_MAX_ATTEMPTS?.trim();
  if (attempts) {
    const n = Number(attempts);
    if (!/^\d+$/.test(attempts) || n < 1 || n > 100)
      throw new ConfigError(`AWS_MAX_ATTEMPTS must be a whole number from 1 to 100, got "${attempts}"`);
    out.maxAttempts = n;
  }
  return out;
}
