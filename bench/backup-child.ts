/**
 * One backup or restore in a process of its own, so its peak memory is its own: prints
 * {items, seconds, maxRssMb, heapHighWaterMb} as JSON. Used by bench/backup.ts.
 *   node --import tsx bench/backup-child.ts backup <endpoint> <table> <dir> [jobId]
 *   node --import tsx bench/backup-child.ts restore <endpoint> <table> <dir>
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backupTable } from '../src/backup/full-backup.js';
import { resolveRestoreSource } from '../src/backup/restore-source.js';
import { restoreTable } from '../src/backup/restore.js';
import { keySchemaFromDescription } from '../src/dynamodb/tables.js';
import { LOCAL_CREDENTIALS } from '../src/embedded/dynamodb-local.js';
import { openObjectStore } from '../src/storage/open-store.js';

const [mode, endpoint, table, dir, jobId] = process.argv.slice(2);
if (!mode || !endpoint || !table || !dir)
  throw new Error('usage: backup-child.ts backup|restore <endpoint> <table> <dir>');
const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
const store = openObjectStore(dir);
let heapHighWater = 0;
const sample = setInterval(
  () => (heapHighWater = Math.max(heapHighWater, process.memoryUsage().heapUsed)),
  20,
);
const started = performance.now();
let items: number;
let verifySeconds = 0;
if (mode === 'backup') {
  items = (await backupTable(client, store, { table, parallel: 4, ...(jobId ? { jobId } : {}) })).itemCount;
} else {
  const source = await resolveRestoreSource(store);
  verifySeconds = (performance.now() - started) / 1000;
  if (!source.description) throw new Error('backup without description');
  const result = await restoreTable(client, table, source.items(), {
    keySchema: keySchemaFromDescription(source.description),
    targetEmpty: true,
  });
  items = result.written;
}
const seconds = (performance.now() - started) / 1000;
clearInterval(sample);
client.destroy();
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
process.stdout.write(
  JSON.stringify({
    items,
    seconds,
    verifySeconds,
    maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
    heapHighWaterMb: mb(heapHighWater),
  }) + '\n',
);
