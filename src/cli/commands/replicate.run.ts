// The `replicate` command itself, loaded only when it runs (its spec and help are in replicate.ts).
import { UsageError } from '../../core/errors.js';
import { parseTableLocation } from '../../core/location.js';
import { createDynamoClient } from '../../dynamodb/client.js';
import { createStreamsClient } from '../../streams/client.js';
import { openCheckpointStore } from '../../replicate/checkpoint.js';
import { verifyPrometheusText } from '../../replicate/metrics.js';
import { checkReplicateOptions, replicateTable } from '../../replicate/replicate-table.js';
import type { StartFrom } from '../../replicate/runner.js';
import { StatusTracker } from '../../replicate/status.js';
import { loadTransform } from '../../replicate/transform.js';
import { openBackupStore } from '../backup-store.js';
import { writeBudgetOption } from '../budgets.js';
import { intOption, stringOption, type CliIO, type ParsedArgs } from '../command.js';
import { parseDuration } from '../duration.js';
import { stopOnSignals } from '../stop-signals.js';
import { startStatusPage, type StatusPage } from '../status-server.js';
import { cliClientOptions, closing, openTable } from '../locations.js';
import { printStatusPageUrl, replicatePrinter } from '../replicate-output.js';
import { turnoverOption } from '../time-option.js';
import { startVerifying } from '../verify-loop.js';
import { verifySettings } from '../verify-option.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  if (args.values['multi-active'] === true)
    return import('./replicate-group.run.js').then((m) => m.run(args, io));
  const s = parseSettings(args);
  const verify = verifySettings(args);
  const backupText = stringOption(args, 'backup');
  checkReplicateOptions({
    ...s,
    replicas: args.positionals.length - 1,
    changeLog: backupText !== undefined,
  });
  const { source, replicas } = openEnds(args, io);
  const streams = createStreamsClient(source.location, cliClientOptions(io));
  const checkpointAt = checkpointPlace(s, io);
  const clients = [source.client, ...replicas.map((r) => r.client), streams, ...checkpointAt.clients];
  return closing(clients, async () => {
    const checkpoint = await openCheckpointStore({ source, replicas, ...checkpointAt.place });
    const transform = s.transformModule
      ? await loadTransform(s.transformModule, { label: '--transform' })
      : undefined;
    const stop = stopOnSignals();
    const tracker = new StatusTracker({ source: source.label, replicas: replicas.map((r) => r.label) });
    let page: StatusPage | undefined;
    const backupLog = backupText === undefined ? undefined : openBackupStore(backupText, args, io);
    const changeLog = backupLog?.store.at(source.table);
    const print = replicatePrinter(io, s.json);
    const verifyStop = new AbortController();
    const verifying =
      verify &&
      startVerifying(io, {
        settings: verify,
        targets: {
          source,
          replicas,
          ...(changeLog ? { backup: { store: changeLog, label: `${backupText}/${source.table}` } } : {}),
        },
        json: s.json,
        signal: AbortSignal.any([stop.signal, verifyStop.signal]),
      });
    try {
      if (s.metricsPort !== undefined) {
        page = await startStatusPage(s.metricsPort, tracker, {
          ...(changeLog ? { changeLog } : {}),
          moreMetrics: () => verifyPrometheusText(verifying?.checks() ?? []),
        });
        printStatusPageUrl(io, page.url);
      }
      await replicateTable({
        ...s,
        source,
        replicas,
        streams,
        checkpoint,
        ...(changeLog ? { changeLog } : {}),
        ...(transform ? { transform } : {}),
        signal: stop.signal,
        onEvent: (event) => {
          tracker.onEvent(event, Date.now());
          print(event);
        },
        onRunner: (runner) => tracker.attach(runner, Date.now()),
        onBatch: (event) => tracker.onBatch(event),
      }).catch((error: unknown) => {
        tracker.finish(error);
        throw error;
      });
      tracker.finish();
      return 0;
    } finally {
      verifyStop.abort();
      await verifying?.done;
      stop.dispose();
      await page?.close();
      backupLog?.destroy();
    }
  });
}

/** The source and replica tables named on the command line; none may be given twice. */
function openEnds(args: ParsedArgs, io: CliIO) {
  const source = openTable(args.positionals[0] as string, io);
  const replicas = args.positionals.slice(1).map((text) => openTable(text, io));
  const labels = new Set<string>([source.label]);
  for (const r of replicas) {
    if (labels.has(r.label)) throw new UsageError(`replicate: ${r.label} is given twice (or is the source)`);
    labels.add(r.label);
  }
  return { source, replicas };
}

/** --checkpoint or --checkpoint-table as openCheckpointStore takes them, with the client a table needs. */
function checkpointPlace(s: ReturnType<typeof parseSettings>, io: CliIO) {
  const table = s.checkpointTable;
  if (!table) return { clients: [], place: s.checkpointFile ? { file: s.checkpointFile } : {} };
  const client = createDynamoClient(table, cliClientOptions(io));
  const lease = s.leaseDurationMs !== undefined ? { durationMs: s.leaseDurationMs } : {};
  return { clients: [client], place: { table: { client, table: table.table, lease } } };
}

/** Options of a multi-active group only. */
const GROUP_ONLY = ['member-ids', 'metadata-attributes', 'tombstone-ttl', 'conflict-log', 'checkpoint-dir'];

function parseSettings(args: ParsedArgs) {
  const groupOnly = GROUP_ONLY.find((name) => args.values[name] !== undefined);
  if (groupOnly) throw new UsageError(`--${groupOnly} applies to a multi-active group only (--multi-active)`);
  const from = stringOption(args, 'from') ?? 'trim-horizon';
  if (from !== 'trim-horizon' && from !== 'latest')
    throw new UsageError(`--from must be trim-horizon or latest, got "${from}"`);
  const onGap = stringOption(args, 'on-gap') ?? 'stop';
  if (onGap !== 'stop' && onGap !== 'resync')
    throw new UsageError(`--on-gap must be stop or resync, got "${onGap}"`);
  const checkpointFile = stringOption(args, 'checkpoint');
  const checkpointTableText = stringOption(args, 'checkpoint-table');
  if (checkpointFile && checkpointTableText)
    throw new UsageError('--checkpoint and --checkpoint-table are alternatives: give one');
  const leaseDuration = stringOption(args, 'lease-duration');
  if (leaseDuration !== undefined && !checkpointTableText)
    throw new UsageError(
      '--lease-duration applies to --checkpoint-table only (a checkpoint file is locked while its runner lives)',
    );
  const leaseDurationMs =
    leaseDuration !== undefined ? parseDuration(leaseDuration, 'lease-duration') : undefined;
  if (leaseDurationMs !== undefined && leaseDurationMs < 1_000)
    throw new UsageError(`--lease-duration must be at least 1s, got "${leaseDuration}"`);
  const idle = stringOption(args, 'stop-when-idle');
  const every = stringOption(args, 'stats-every');
  const metricsPort = intOption(args, 'metrics-port', undefined, { min: 0, max: 65535 });
  const transformModule = stringOption(args, 'transform');
  const turnover = turnoverOption(args);
  const writeBudget = writeBudgetOption(args);
  return {
    ...(checkpointFile ? { checkpointFile } : {}),
    ...(checkpointTableText ? { checkpointTable: parseTableLocation(checkpointTableText) } : {}),
    waitForLease: args.values['wait-for-lease'] === true,
    ...(leaseDurationMs !== undefined ? { leaseDurationMs } : {}),
    from: from as StartFrom,
    backfill: args.values.backfill === true,
    parallel: intOption(args, 'parallel', 4, { min: 1, max: 1000 }) as number,
    ...(writeBudget ? { writeBudget } : {}),
    ...(transformModule ? { transformModule } : {}),
    ...(turnover ? { turnover } : {}),
    readThrough: args.values['read-through'] === true,
    onGap: onGap as 'stop' | 'resync',
    ...(idle !== undefined ? { stopWhenIdleMs: parseDuration(idle, 'stop-when-idle') } : {}),
    statsEveryMs: every !== undefined ? Math.max(100, parseDuration(every, 'stats-every')) : 5_000,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    json: args.values.json === true,
  };
}
