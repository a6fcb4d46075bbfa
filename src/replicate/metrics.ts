import type { DirectionCounters } from './group-direction.js';
import type { GroupDirectionStats } from './replicate-group.js';
import type { RunnerStats } from './runner.js';

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Appends one metric (HELP, TYPE and a sample per label set) to `lines`. */
function metricWriter(lines: string[]) {
  return (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}{${labels}} ${value}`);
  };
}

/** The runner's figures in the Prometheus text exposition format (served by `--metrics-port`). */
export function prometheusText(stats: RunnerStats): string {
  const stream = `stream="${label(stats.streamArn)}"`;
  const lines: string[] = [];
  const metric = metricWriter(lines);
  metric(
    'dynamodb_replicator_records_total',
    'counter',
    'Stream records durably applied (or filtered out).',
    [[stream, stats.records]],
  );
  metric('dynamodb_replicator_applied_total', 'counter', 'Records whose key was written to every replica.', [
    [stream, stats.applied],
  ]);
  metric(
    'dynamodb_replicator_skipped_total',
    'counter',
    'Records dropped by the cut-over filter or transform.',
    [[stream, stats.skipped]],
  );
  metric(
    'dynamodb_replicator_rejected_total',
    'counter',
    "Records whose item breaks one of DynamoDB's limits (not written, not retried).",
    [[stream, stats.rejected]],
  );
  metric('dynamodb_replicator_failed_attempts_total', 'counter', 'Batch attempts that left keys unapplied.', [
    [stream, stats.failedAttempts],
  ]);
  metric('dynamodb_replicator_checkpoints_total', 'counter', 'Checkpoint saves.', [
    [stream, stats.checkpoints],
  ]);
  metric('dynamodb_replicator_uptime_seconds', 'gauge', 'Seconds since the runner started.', [
    [stream, stats.uptimeMs / 1000],
  ]);
  metric(
    'dynamodb_replicator_lag_milliseconds',
    'gauge',
    'Now minus the newest applied record creation time while records wait; 0 when caught up.',
    [
      [stream, stats.lagMs ?? 0],
      ...stats.shards
        .filter((s) => s.state === 'reading')
        .map((s): [string, number] => [`${stream},shard="${label(s.shardId)}"`, s.lagMs ?? 0]),
    ],
  );
  metric(
    'dynamodb_replicator_shard_records_total',
    'counter',
    'Records applied per shard.',
    stats.shards.map((s) => [`${stream},shard="${label(s.shardId)}"`, s.records]),
  );
  const states = ['waiting', 'reading', 'finished'] as const;
  metric(
    'dynamodb_replicator_shards',
    'gauge',
    'Shards by state.',
    states.map((state) => [
      `${stream},state="${state}"`,
      stats.shards.filter((s) => s.state === state).length,
    ]),
  );
  return lines.join('\n') + '\n';
}

/** The last completed verify run of each check (`replicate --verify-every`). */
export interface VerifiedCheck {
  readonly check: string;
  readonly discrepancies: number;
  /** Epoch ms. */
  readonly verifiedAt: number;
}

/**
 * The verify job's figures in Prometheus text, the same two as the verify Lambda publishes:
 * discrepancies and verified-at per check. A failed run leaves a check's figures as they were, so
 * its verified-at stops advancing.
 */
export function verifyPrometheusText(checks: readonly VerifiedCheck[]): string {
  if (checks.length === 0) return '';
  const lines = [
    '# HELP dynamodb_replicator_verify_discrepancies Keys that differed at the last completed verify run.',
    '# TYPE dynamodb_replicator_verify_discrepancies gauge',
    ...checks.map(
      (c) => `dynamodb_replicator_verify_discrepancies{check="${label(c.check)}"} ${c.discrepancies}`,
    ),
    '# HELP dynamodb_replicator_verified_at_seconds When the last verify run of the check completed (epoch seconds).',
    '# TYPE dynamodb_replicator_verified_at_seconds gauge',
    ...checks.map(
      (c) =>
        `dynamodb_replicator_verified_at_seconds{check="${label(c.check)}"} ${Math.floor(c.verifiedAt / 1000)}`,
    ),
  ];
  return lines.join('\n') + '\n';
}

/** A multi-active group's figures, per direction (`direction="<source>-to-<target>"`). */
export function groupPrometheusText(directions: readonly GroupDirectionStats[]): string {
  const lines: string[] = [];
  const metric = metricWriter(lines);
  const each = (value: (d: GroupDirectionStats) => number): [string, number][] =>
    directions.map((d) => [`direction="${label(d.name)}"`, value(d)]);
  metric(
    'dynamodb_replicator_records_total',
    'counter',
    'Stream records durably handled.',
    each((d) => d.stats().records),
  );
  metric(
    'dynamodb_replicator_lag_milliseconds',
    'gauge',
    'Now minus the newest handled record creation time while records wait; 0 when caught up.',
    each((d) => d.stats().lagMs ?? 0),
  );
  metric(
    'dynamodb_replicator_failed_attempts_total',
    'counter',
    'Batch attempts that left keys unapplied.',
    each((d) => d.stats().failedAttempts),
  );
  const counters: [string, string, keyof Omit<DirectionCounters, 'ambiguous'>][] = [
    ['sent', 'Local writes written to the target member.', 'sent'],
    ['duplicates', 'Sends the target already held (same version).', 'duplicates'],
    ['superseded', 'Sends refused for a later version.', 'superseded'],
    ['conflicts', 'Versions that lost to a concurrent one, as found by this direction.', 'conflicts'],
    [
      'repairs',
      "The source's own writes restored after a concurrent lower version overwrote them.",
      'repairs',
    ],
  ];
  for (const [name, help, field] of counters)
    metric(
      `dynamodb_replicator_group_${name}_total`,
      'counter',
      help,
      each((d) => d.counters[field]),
    );
  metric(
    'dynamodb_replicator_group_ambiguous_records_total',
    'counter',
    'Records whose origin the stream alone cannot tell (docs/multi-active.md).',
    directions.flatMap((d) =>
      Object.entries(d.counters.ambiguous).map(([reason, n]): [string, number] => [
        `direction="${label(d.name)}",reason="${reason}"`,
        n,
      ]),
    ),
  );
  return lines.join('\n') + '\n';
}
