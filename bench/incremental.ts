/**
 * Incremental backup cost and speed: records captured from a real DynamoDB Local stream are fed to
 * the `backup` Lambda handler in Lambda event batches, writing the change log to a filesystem store
 * that counts PUTs. Figures: object PUTs per 1,000 changes (target <= 10: the old design made 1,000)
 * at Lambda batch sizes 100 and 1,000, logged changes/s as a ratio of the run's raw write ceiling,
 * and the point-in-time rebuild (base snapshot + the whole log) items/s as a ratio of the raw scan
 * ceiling.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_CREDENTIALS } from '../src/embedded/dynamodb-local.js';
import { createBackupHandler } from '../src/lambda/backup.js';
import { createLogger } from '../src/lambda/log.js';
import { openObjectStore } from '../src/storage/open-store.js';
import { incrementalBackfill } from '../src/backup/snapshots.js';
import { stateAt } from '../src/backup/point-in-time.js';
import type { LambdaStreamEvent } from '../src/core/change-sources.js';
import { createStreamTable, readStream, toLambdaEvent } from '../test/harness/stream-capture.js';
import { countingStore } from '../test/harness/backup-stores.js';
import { benchItem, rawBatchWrite } from './baselines.js';
import { round, type BenchSuite } from './context.js';

const CHANGES = 10_000;

export const incrementalSuite: BenchSuite = {
  name: 'incremental',
  async run(ctx) {
    const opts = { endpoint: ctx.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
    const client = new DynamoDBClient(opts);
    const streams = new DynamoDBStreamsClient(opts);
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-incremental-'));
    const table = await createStreamTable(client, 'bench-incremental');
    try {
      const logRoot = openObjectStore(dir);
      // The log starts on an empty table: the base snapshot is empty, every item comes from the log.
      await incrementalBackfill(client, logRoot.at(table), { table });
      await rawBatchWrite(client, table, CHANGES, benchItem);
      const capture = await readStream(client, streams, table, CHANGES, 60_000);
      const records = capture.records.slice(0, CHANGES);
      const logger = createLogger({ level: 'info', write: () => {} });
      const figures: Record<string, number> = {};
      for (const batch of [100, 1000]) {
        const events: LambdaStreamEvent[] = [];
        for (let i = 0; i < records.length; i += batch)
          events.push(toLambdaEvent(capture, records.slice(i, i + batch)));
        const store = countingStore(batch === 100 ? logRoot : openObjectStore(path.join(dir, `b${batch}`)));
        const handle = createBackupHandler(
          { bucket: 'unused', prefix: '', logLevel: 'info' },
          { store, logger, metrics: () => {} },
        );
        const started = performance.now();
        for (const event of events) {
          const out = await handle(event);
          if (out.batchItemFailures.length) throw new Error('backup batch failed');
        }
        const seconds = (performance.now() - started) / 1000;
        figures[`putsPer1000ChangesBatch${batch}`] = round((store.counter.puts / records.length) * 1000, 2);
        figures[`changesPerSecondBatch${batch}`] = Math.round(records.length / seconds);
        figures[`ratioToWriteCeilingBatch${batch}`] = round(
          records.length / seconds / ctx.baselines.writeItemsPerSecond,
        );
      }
      const started = performance.now();
      const state = await stateAt(logRoot.at(table), Date.now() + 60_000);
      let items = 0;
      for await (const _ of state.items()) items++;
      const seconds = (performance.now() - started) / 1000;
      if (items !== CHANGES) throw new Error(`point-in-time rebuild produced ${items} of ${CHANGES} items`);
      return {
        changes: records.length,
        ...figures,
        pointInTimeItemsPerSecond: Math.round(items / seconds),
        pointInTimeRatioToScanCeiling: round(items / seconds / ctx.baselines.scanItemsPerSecond),
      };
    } finally {
      await client.send(new DeleteTableCommand({ TableName: table }));
      client.destroy();
      streams.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
