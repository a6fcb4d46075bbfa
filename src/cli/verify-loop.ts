// The loop of `replicate --verify-every` (options and help in verify-option.ts).
import {
  formatVerifyOutcome,
  runVerifyChecks,
  verifyChecks,
  verifyEvery,
  type VerifyOutcome,
  type VerifyTargets,
} from '../diff/verify.js';
import { redactUrls } from '../core/redact.js';
import type { VerifiedCheck } from '../replicate/metrics.js';
import type { CliIO } from './command.js';
import type { VerifySettings } from './verify-option.js';

/** An outcome as a `verify` event (the --json line). */
function verifyEvent(outcome: VerifyOutcome): Record<string, unknown> {
  if (!outcome.ok) {
    const error = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    return { event: 'verify', check: outcome.label, error: redactUrls(error) };
  }
  return {
    event: 'verify',
    check: outcome.label,
    discrepancies: outcome.discrepancies,
    scanned: outcome.scanned,
    verifiedAt: new Date(outcome.verifiedAt).toISOString(),
  };
}

/**
 * Starts verifying every interval until `signal` aborts. Each outcome is printed (a JSON `verify`
 * event on stdout with --json, else a line on stderr); `checks()` is the last completed run of each
 * check, for the metrics endpoint.
 */
export function startVerifying(
  io: CliIO,
  o: {
    readonly settings: VerifySettings;
    readonly targets: Omit<VerifyTargets, 'readCapacity'>;
    readonly json: boolean;
    readonly signal: AbortSignal;
  },
): { readonly done: Promise<void>; checks(): VerifiedCheck[] } {
  const { settings } = o;
  const checks = verifyChecks({
    ...o.targets,
    ...(settings.readCapacity !== undefined ? { readCapacity: settings.readCapacity } : {}),
  });
  const latest = new Map<string, VerifiedCheck>();
  // The loop only fails outside a check (a check's error is its outcome); the runner goes on.
  const done = verifyEvery({
    everyMs: settings.everyMs,
    signal: o.signal,
    run: (signal) => runVerifyChecks(checks, { settleMs: settings.settleMs, signal }),
    onOutcomes: (outcomes) => {
      for (const outcome of outcomes) {
        if (outcome.ok)
          latest.set(outcome.label, {
            check: outcome.label,
            discrepancies: outcome.discrepancies.total,
            verifiedAt: outcome.verifiedAt,
          });
        if (o.json) io.stdout.write(JSON.stringify(verifyEvent(outcome)) + '\n');
        // SDK errors may quote an endpoint: credentials in URLs are redacted.
        else io.stderr.write(redactUrls(formatVerifyOutcome(outcome)) + '\n');
      }
    },
  }).catch((error: unknown) => {
    io.stderr.write(redactUrls(`verify stopped: ${(error as Error)?.message ?? String(error)}`) + '\n');
  });
  return { done, checks: () => [...latest.values()] };
}
