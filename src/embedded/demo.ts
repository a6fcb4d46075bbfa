/**
 * `npm start`: the embedded default, the main job on DynamoDB Local (AWS's emulator, in memory):
 * replication from a source table in us-east-1 to a replica in eu-west-1 by the stream runner, under
 * a mixed write load, then an item-by-item comparison. `npm start -- --table-cli` shows the table CLI
 * instead (export -> import -> compare). The emulator is always stopped, also on errors and Ctrl-C.
 * Exit code 0 only when the tables are equal. `--seconds N` shortens or lengthens the load; the
 * runner's status page is served while the demo runs (`--status-port N`, default any free port).
 */
import { ReplicatorError } from '../core/errors.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { runReplicationDemo } from './replication-demo.js';
import { runTableCliDemo } from './table-cli-demo.js';

// Everything in this process talks to the emulator, which keeps one database per access key: pin
// the local pair so a developer's AWS profile or environment cannot split or leak the demo's data.
process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const log = (line: string) => process.stdout.write(`${line}\n`);

async function tableCliDemo(endpoint: string): Promise<number> {
  const started = performance.now();
  const result = await runTableCliDemo(endpoint, (line) => log(`  ${line}`));
  const ok = result.different.length === 0 && result.missing.length === 0 && result.items > 0;
  for (const key of [...result.different, ...result.missing].slice(0, 5)) log(`  not equal: ${key}`);
  log(
    ok
      ? `OK: export -> import kept all ${result.items} items exactly (${((performance.now() - started) / 1000).toFixed(1)} s)`
      : 'FAILED: the imported table differs from the source',
  );
  return ok ? 0 : 1;
}

async function replicationDemo(endpoint: string, signal: AbortSignal): Promise<number> {
  const secondsArg = process.argv.indexOf('--seconds');
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 20;
  if (!(seconds > 0)) throw new ReplicatorError('--seconds must be a positive number');
  const portArg = process.argv.indexOf('--status-port');
  const statusPort = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
  if (!(Number.isInteger(statusPort) && statusPort >= 0 && statusPort <= 65535))
    throw new ReplicatorError('--status-port must be a port number (0-65535)');
  const result = await runReplicationDemo(
    endpoint,
    (line) => log(`  ${line}`),
    { seconds, statusPort },
    signal,
  );
  const ok = result.differences.length === 0 && result.verified.total === 0 && result.records > 0;
  for (const key of result.differences.slice(0, 5)) log(`  not equal: ${key}`);
  log(
    `  ${result.writes} writes -> ${result.records} stream records applied; end-to-end lag (write -> on the replica) ` +
      `p50 ${result.lag.p50 ?? '-'} ms, p99 ${result.lag.p99 ?? '-'} ms, max ${result.lag.max ?? '-'} ms`,
  );
  log(
    ok
      ? `OK: the replica equals the source, item by item (${result.sourceItems} items)`
      : `FAILED: ${result.differences.length} item(s) differ (source ${result.sourceItems}, replica ${result.replicaItems} items)`,
  );
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  const tableCli = process.argv.includes('--table-cli');
  log(
    tableCli
      ? 'dynamodb-replicator demo: the table CLI on DynamoDB Local'
      : 'dynamodb-replicator demo: replication between two regions on DynamoDB Local',
  );
  const interrupted = new AbortController();
  const started = performance.now();
  let server: DynamoDbLocal | undefined;
  const stop = async () => {
    const s = server;
    server = undefined;
    await s?.stop();
  };
  process.once('SIGINT', () => {
    log('\ninterrupted: stopping DynamoDB Local');
    interrupted.abort();
    void stop().finally(() => process.exit(130));
  });
  try {
    server = await startDynamoDbLocal();
    log(
      `started DynamoDB Local at ${server.endpoint} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    return tableCli
      ? await tableCliDemo(server.endpoint)
      : await replicationDemo(server.endpoint, interrupted.signal);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    if (!(error instanceof ReplicatorError) && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    return error instanceof ReplicatorError ? error.exitCode : 1;
  } finally {
    await stop();
    log('stopped DynamoDB Local');
  }
}

process.exitCode = await main();
