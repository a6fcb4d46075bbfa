// What `replicate` prints while it runs, one way (replicate.run.ts) and --multi-active
// (replicate-group.run.ts): its runner's events and where its status page is.
import { redactUrls } from '../core/redact.js';
import type { GroupEvent, GroupSummary } from '../replicate/replicate-group.js';
import type { ReplicateTableEvent } from '../replicate/replicate-table.js';
import type { RunnerStats, RunnerSummary } from '../replicate/runner.js';
import type { CliIO } from './command.js';

/**
 * Events as lines: with --json, each one as JSON on stdout; otherwise the summary on stdout and
 * stats and the rest on stderr.
 */
export function replicatePrinter(io: CliIO, json: boolean): (event: ReplicateTableEvent) => void {
  return (event) => {
    if (json) printJson(io, event);
    else if (event.event === 'stats') io.stderr.write(statsLine(event, event.recordsPerSecond) + '\n');
    else if (event.event === 'stopped') io.stdout.write(summaryLine(event) + '\n');
    else printEvent(io, event);
  };
}

/** The events of a multi-active group, as replicatePrinter prints a one-way runner's. */
export function groupPrinter(io: CliIO, json: boolean): (event: GroupEvent) => void {
  return (event) => {
    if (json) printJson(io, event);
    else if (event.event === 'stopped') io.stdout.write(groupSummaryLine(event as GroupSummary) + '\n');
    else printEvent(io, event);
  };
}

export function printStatusPageUrl(io: CliIO, url: string): void {
  io.stderr.write(`status page on ${url} (Prometheus text on /metrics, liveness on /healthz)\n`);
}

// Events carry SDK error messages, which may quote an endpoint: credentials in URLs are redacted.
function printJson(io: CliIO, event: { readonly event: string }): void {
  io.stdout.write(redactUrls(JSON.stringify(event)) + '\n');
}

function printEvent(io: CliIO, event: { readonly event: string }): void {
  io.stderr.write(redactUrls(`${event.event}: ${JSON.stringify({ ...event, event: undefined })}`) + '\n');
}

function statsLine(stats: RunnerStats, recordsPerSecond: number): string {
  const reading = stats.shards.filter((x) => x.state === 'reading');
  const perShard = reading
    .map(
      (x) => `${x.shardId.slice(-8)}: ${x.records} rec, lag ${x.lagMs === undefined ? '-' : `${x.lagMs} ms`}`,
    )
    .join('; ');
  return (
    `replicate: ${stats.records} records, ${Math.round(recordsPerSecond)}/s, ` +
    `lag ${stats.lagMs === undefined ? '-' : `${stats.lagMs} ms`}, ${reading.length} shard(s) open` +
    (perShard ? ` [${perShard}]` : '')
  );
}

function summaryLine(summary: RunnerSummary): string {
  return (
    `replicate stopped (${summary.reason}): ${summary.records} records applied, ${summary.skipped} skipped, ` +
    (summary.rejected > 0 ? `${summary.rejected} rejected (see the records-rejected lines), ` : '') +
    `${summary.failedAttempts} failed attempts retried, ${summary.checkpoints} checkpoints in ${(summary.uptimeMs / 1000).toFixed(1)} s`
  );
}

function groupSummaryLine(summary: GroupSummary): string {
  const conflicts = summary.directions.reduce((n, d) => n + d.counters.conflicts, 0);
  const records = summary.directions.reduce((n, d) => n + d.records, 0);
  return `replicate --multi-active stopped (${summary.reason}): ${records} records over ${summary.directions.length} directions, ${conflicts} conflicts`;
}
