// `replicate --multi-active`, loaded only when it runs (its help is in replicate.ts).
import path from 'node:path';
import { UsageError } from '../../core/errors.js';
import { createStreamsClient } from '../../streams/client.js';
import { openFileCheckpoint, type FileCheckpointStore } from '../../replicate/checkpoint.js';
import { groupPrometheusText } from '../../replicate/metrics.js';
import { StatusTracker } from '../../replicate/status.js';
import {
  checkGroupMembers,
  replicateGroup,
  type GroupDirectionStats,
  type GroupMember,
} from '../../replicate/replicate-group.js';
import { stopOnSignals } from '../stop-signals.js';
import { openBackupStore } from '../backup-store.js';
import { intOption, stringOption, type CliIO, type ParsedArgs } from '../command.js';
import { parseDuration } from '../duration.js';
import { serveStatus } from '../status-server.js';
import { parseMetadataNames } from '../group-options.js';
import { cliClientOptions, closing, openTable } from '../locations.js';
import { groupPrinter, printStatusPageUrl } from '../replicate-output.js';

/** One-way options that mean nothing in a group. */
const ONE_WAY_ONLY = [
  'backup',
  'backfill',
  'transform',
  'turnover-role',
  'turnover-at',
  'read-through',
  'on-gap',
  'from',
  'checkpoint',
  'checkpoint-table',
  'lease-duration',
  'wait-for-lease',
  'write-budget',
  'items-per-second',
];

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const oneWay = ONE_WAY_ONLY.find((name) => args.values[name] !== undefined);
  if (oneWay) throw new UsageError(`--${oneWay} cannot be used with --multi-active`);
  if (args.positionals.length < 2) throw new UsageError('--multi-active needs at least two members');
  const s = parseGroupSettings(args);
  const tables = args.positionals.map((text) => openTable(text, io));
  const ids = memberIds(args, tables);
  const members: GroupMember[] = tables.map((t, i) => ({
    id: ids[i] as string,
    client: t.client,
    streams: createStreamsClient(t.location, cliClientOptions(io)),
    table: t.table,
    label: t.label,
  }));
  checkGroupMembers(members);
  const dir = s.checkpointDir ?? path.join('.dynamodb-replicator', `group-${ids.join('-')}`);
  const files = new Map<string, string>();
  for (const a of members)
    for (const b of members)
      if (a !== b) files.set(`${a.id} ${b.id}`, path.join(dir, `${a.id}-to-${b.id}.checkpoint.json`));
  const clients = members.flatMap((m) => [m.client, m.streams]);
  return closing(clients, async () => {
    const checkpoints = new Map<string, FileCheckpointStore>();
    for (const [direction, file] of files) checkpoints.set(direction, await openFileCheckpoint(file));
    const log = openBackupStore(s.conflictLog ?? path.join(dir, 'conflicts'), args, io);
    const stop = stopOnSignals();
    let directions: readonly GroupDirectionStats[] = [];
    let metrics: Awaited<ReturnType<typeof serveStatus>>['server'] | undefined;
    let running = true;
    // The page of a group shows its state and conflicts; the figures per direction are on /metrics.
    const tracker = new StatusTracker({ source: members.map((m) => m.label).join(', '), replicas: [] });
    try {
      if (s.metricsPort !== undefined) {
        const served = await serveStatus(s.metricsPort, {
          metrics: () => groupPrometheusText(directions),
          status: () => {
            tracker.setConflicts(directions.reduce((n, d) => n + d.counters.conflicts, 0));
            return tracker.snapshot(Date.now());
          },
          alive: () => running,
        });
        metrics = served.server;
        printStatusPageUrl(io, served.url);
      }
      await replicateGroup({
        members,
        checkpoint: (a, b) => checkpoints.get(`${a.id} ${b.id}`) as FileCheckpointStore,
        conflictLog: log.store,
        metadata: s.metadata,
        ...(s.tombstoneTtlMs !== undefined ? { tombstoneTtlMs: s.tombstoneTtlMs } : {}),
        parallel: s.parallel,
        ...(s.stopWhenIdleMs !== undefined ? { stopWhenIdleMs: s.stopWhenIdleMs } : {}),
        statsEveryMs: s.statsEveryMs,
        signal: stop.signal,
        onEvent: groupPrinter(io, s.json),
        onDirections: (d) => (directions = d),
      });
      return 0;
    } finally {
      running = false;
      stop.dispose();
      log.destroy();
      await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
    }
  });
}

/** --member-ids, or each member's region when they all differ. */
function memberIds(args: ParsedArgs, tables: readonly ReturnType<typeof openTable>[]): string[] {
  const text = stringOption(args, 'member-ids');
  if (text !== undefined) {
    const ids = text.split(',').map((x) => x.trim());
    if (ids.length !== tables.length)
      throw new UsageError(`--member-ids names ${ids.length} member(s), but ${tables.length} are given`);
    return ids;
  }
  const regions = tables.map((t) => t.location.region);
  if (regions.some((r) => r === undefined) || new Set(regions).size !== regions.length)
    throw new UsageError(
      'the members do not all name a different region, so their ids cannot default to it: give --member-ids ID,ID,...',
    );
  return regions as string[];
}

function parseGroupSettings(args: ParsedArgs) {
  const ttl = stringOption(args, 'tombstone-ttl');
  const tombstoneTtlMs = ttl !== undefined ? parseDuration(ttl, 'tombstone-ttl') : undefined;
  if (tombstoneTtlMs !== undefined && tombstoneTtlMs < 3_600_000)
    throw new UsageError(
      `--tombstone-ttl must be at least 1h (tombstones must outlive replication delays), got "${ttl}"`,
    );
  const idle = stringOption(args, 'stop-when-idle');
  const every = stringOption(args, 'stats-every');
  const metricsPort = intOption(args, 'metrics-port', undefined, { min: 0, max: 65535 });
  const checkpointDir = stringOption(args, 'checkpoint-dir');
  const conflictLog = stringOption(args, 'conflict-log');
  return {
    metadata: parseMetadataNames(stringOption(args, 'metadata-attributes')),
    ...(tombstoneTtlMs !== undefined ? { tombstoneTtlMs } : {}),
    parallel: intOption(args, 'parallel', 4, { min: 1, max: 1000 }) as number,
    ...(idle !== undefined ? { stopWhenIdleMs: parseDuration(idle, 'stop-when-idle') } : {}),
    statsEveryMs: every !== undefined ? Math.max(100, parseDuration(every, 'stats-every')) : 5_000,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(checkpointDir ? { checkpointDir } : {}),
    ...(conflictLog ? { conflictLog } : {}),
    json: args.values.json === true,
  };
}
