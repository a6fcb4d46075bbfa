/**
 * A stand-in for DynamoDB's Export to S3, which DynamoDB Local lacks. It sits in the fault proxy in
 * front of DynamoDB Local (the `serve` hook: every other operation reaches DynamoDB Local unchanged)
 * and answers ExportTableToPointInTime and DescribeExport the way DynamoDB does, writing the
 * documented export layout into s3rver:
 *
 * - full export: a consistent scan of the table at the request, as `{"Item":...}` lines in gzipped
 *   data files under `<prefix>/AWSDynamoDB/<id>/data/` (one of them empty, as an empty partition's
 *   is), manifest-files.json, manifest-summary.json (+ hex MD5 .checksum files) and `_started`;
 * - incremental export of [from, to): the table's stream records (NEW_AND_OLD_IMAGES) created in
 *   the window, compacted to one record per item (its last write time, its first old image and last
 *   new image; an insert then a delete leaves nothing), as `{"Metadata":{"WriteTimestampMicros":
 *   {"N":...}},"Keys":...,"NewImage":...,"OldImage":...}` lines in the shared
 *   `<prefix>/AWSDynamoDB/data/` folder, with a summary carrying exportType INCREMENTAL_EXPORT,
 *   exportFromTime, exportToTime and outputView.
 *
 * DynamoDB Local's stream creation times are whole minutes, too coarse for a window, so the stand-in
 * times each stream record itself: when it first reads it (`observe(table)`, which tests call right
 * after their writes, or an export request), in microseconds, in stream order. A full export's
 * moment is its request; a window without ExportToTime ends at the request's whole second.
 * An export is IN_PROGRESS on its first DescribeExport and COMPLETED (or FAILED) after, so every
 * test that waits sees the status change across polls. Tests that use this say so.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { toDynamoJson } from '../../src/core/ddb-json.js';
import type { Item } from '../../src/core/types.js';
import { dynamoClient, streamsClient } from './dynamodb.js';
import { ServedError, startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { readStream } from './stream-capture.js';
import { scanAll } from './table-items.js';

interface Job {
  readonly arn: string;
  readonly input: Record<string, unknown>;
  readonly description: Record<string, unknown>;
  describes: number;
  done?: Promise<void>;
}

export interface ExportStandIn {
  /** Where the code under test sends DynamoDB requests (the proxy in front of DynamoDB Local). */
  readonly endpoint: string;
  readonly proxy: FaultProxy;
  /** ExportTableToPointInTime calls answered, in order, with their input. */
  readonly started: readonly Record<string, unknown>[];
  /** DescribeExport calls answered. */
  describes(): number;
  /** The table has no point-in-time recovery: its exports are refused as DynamoDB refuses them. */
  disablePitr(table: string): void;
  /** The next export ends FAILED with this code and message. */
  failNext(code: string, message: string): void;
  /**
   * The next export writes one data file whose bytes differ from the MD5 in its manifest: the
   * first non-empty one, or the one at `fileIndex` (in manifest order) when given.
   */
  corruptNext(fileIndex?: number): void;
  /**
   * Reads the table's stream (waiting for `writes` records not seen before) and times the new
   * records: now. Call right after writing.
   */
  observe(table: string, writes: number): Promise<void>;
}

const md5 = (b: Buffer | string) => createHash('md5').update(b);
const seconds = (ms: number) => ms / 1000;

export async function startExportStandIn(dynamoEndpoint: string, s3: S3Client): Promise<ExportStandIn> {
  const ddb = dynamoClient(dynamoEndpoint);
  const streams = streamsClient(dynamoEndpoint);
  const jobs = new Map<string, Job>();
  const started: Record<string, unknown>[] = [];
  const noPitr = new Set<string>();
  let failure: { code: string; message: string } | undefined;
  let corrupt: { fileIndex?: number } | undefined;
  let describes = 0;

  // Stream records by sequence number, each with the time (µs) the stand-in first saw it.
  const seen = new Map<string, { record: _Record; micros: number }[]>();
  let lastMicros = 0;
  async function observe(table: string, writes = 0): Promise<{ record: _Record; micros: number }[]> {
    const timed = seen.get(table) ?? [];
    const { records } = await readStream(ddb, streams, table, timed.length + writes);
    const known = new Set(timed.map((t) => t.record.dynamodb?.SequenceNumber));
    for (const record of records) {
      if (known.has(record.dynamodb?.SequenceNumber)) continue;
      lastMicros = Math.max(lastMicros + 1, Date.now() * 1000);
      timed.push({ record, micros: lastMicros });
    }
    seen.set(table, timed);
    return timed;
  }

  const put = (bucket: string, key: string, body: Buffer | string) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

  async function writeExport(
    job: Job,
    lines: string[][],
    dataFolder: string,
    summary: Record<string, unknown>,
  ) {
    const bucket = String(job.input.S3Bucket);
    const folder = `${String(job.description.S3Prefix)}/AWSDynamoDB/${String(job.description.ExportId)}`;
    await put(bucket, `${folder}/_started`, '');
    const entries: string[] = [];
    let bytes = 0;
    for (const [index, fileLines] of lines.entries()) {
      const text = fileLines.map((l) => `${l}\n`).join('');
      bytes += text.length;
      // An empty partition's file is an empty object, as DynamoDB writes it.
      const gz = fileLines.length === 0 ? Buffer.alloc(0) : gzipSync(text);
      const key = `${dataFolder}/${randomBytes(13).toString('hex')}.json.gz`;
      const hit =
        corrupt !== undefined &&
        fileLines.length > 0 &&
        (corrupt.fileIndex === undefined || corrupt.fileIndex === index);
      const written = hit ? gzipSync(text.replace(/"S":"/, '"S":"X')) : gz;
      if (hit) corrupt = undefined;
      await put(bucket, key, written);
      entries.push(
        JSON.stringify({
          itemCount: fileLines.length,
          md5Checksum: md5(gz).digest('base64'),
          etag: md5(gz).digest('hex'),
          dataFileS3Key: key,
        }) + '\n',
      );
    }
    const files = entries.join('');
    await put(bucket, `${folder}/manifest-files.json`, files);
    await put(bucket, `${folder}/manifest-files.checksum`, md5(files).digest('hex'));
    const itemCount = lines.reduce((n, f) => n + f.length, 0);
    const text = JSON.stringify({
      ...summary,
      exportArn: job.arn,
      startTime: new Date(Number(job.description.StartTime) * 1000).toISOString(),
      endTime: new Date().toISOString(),
      tableArn: job.input.TableArn,
      tableId: '',
      s3Bucket: bucket,
      s3Prefix: job.description.S3Prefix,
      s3SseAlgorithm: 'AES256',
      s3SseKmsKeyId: null,
      manifestFilesS3Key: `${folder}/manifest-files.json`,
      billedSizeBytes: bytes,
      itemCount,
      outputFormat: 'DYNAMODB_JSON',
    });
    await put(bucket, `${folder}/manifest-summary.json`, text);
    await put(bucket, `${folder}/manifest-summary.checksum`, md5(text).digest('hex'));
    Object.assign(job.description, {
      ItemCount: itemCount,
      BilledSizeBytes: bytes,
      ExportManifest: `${folder}/manifest-files.json`,
    });
  }

  async function fullExport(job: Job, table: string): Promise<void> {
    const items = await scanAll(ddb, table);
    const line = (i: Item) => JSON.stringify({ Item: toDynamoJson(i) });
    const half = Math.ceil(items.length / 2);
    await writeExport(
      job,
      [items.slice(0, half).map(line), [], items.slice(half).map(line)],
      dataFolderOf(job, true),
      {
        version: '2020-06-30',
        exportTime: new Date(Number(job.description.ExportTime) * 1000).toISOString(),
      },
    );
  }

  async function incrementalExport(job: Job, table: string): Promise<void> {
    const spec = job.description.IncrementalExportSpecification as Record<string, number>;
    const from = (spec.ExportFromTime as number) * 1000;
    const to = (spec.ExportToTime as number) * 1000;
    // Per item, in stream order: the first old image (its state at `from`) and the last write.
    const byKey = new Map<string, { keys: Item; old?: Item; last: Item | undefined; micros: number }>();
    for (const { record: r, micros } of await observe(table)) {
      const d = r.dynamodb ?? {};
      if (micros < from * 1000 || micros >= to * 1000) continue;
      const keys = d.Keys as Item;
      const id = JSON.stringify(toDynamoJson(keys));
      const known = byKey.get(id);
      const last = r.eventName === 'REMOVE' ? undefined : (d.NewImage as Item);
      if (known) Object.assign(known, { last, micros });
      else byKey.set(id, { keys, ...(d.OldImage ? { old: d.OldImage as Item } : {}), last, micros });
    }
    const lines: string[] = [];
    for (const c of byKey.values()) {
      if (!c.old && !c.last) continue; // inserted and deleted inside the window
      lines.push(
        JSON.stringify({
          Metadata: { WriteTimestampMicros: { N: String(c.micros) } },
          Keys: toDynamoJson(c.keys),
          ...(c.last ? { NewImage: toDynamoJson(c.last) } : {}),
          ...(c.old ? { OldImage: toDynamoJson(c.old) } : {}),
        }),
      );
    }
    const half = Math.ceil(lines.length / 2);
    await writeExport(job, [lines.slice(0, half), lines.slice(half)], dataFolderOf(job, false), {
      version: '2023-08-01',
      exportFromTime: new Date(from).toISOString(),
      exportToTime: new Date(to).toISOString(),
      outputView: 'NEW_AND_OLD_IMAGES',
      exportType: 'INCREMENTAL_EXPORT',
    });
  }

  function dataFolderOf(job: Job, full: boolean): string {
    const root = `${String(job.description.S3Prefix)}/AWSDynamoDB`;
    return full ? `${root}/${String(job.description.ExportId)}/data` : `${root}/data`;
  }

  async function start(input: Record<string, unknown>): Promise<unknown> {
    started.push(input);
    const tableArn = String(input.TableArn);
    const table = tableArn.slice(tableArn.indexOf(':table/') + ':table/'.length);
    if (noPitr.has(table))
      return new ServedError(
        'PointInTimeRecoveryUnavailableException',
        `Point in time recovery is not enabled for table '${table}'`,
      );
    const incremental = input.ExportType === 'INCREMENTAL_EXPORT';
    // Every write so far is timed before a full export's moment, which is now, exactly.
    if (!incremental) await observe(table);
    const now = incremental ? Math.floor(Date.now() / 1000) * 1000 : Date.now();
    const id = `${String(Date.now()).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
    const arn = `${tableArn}/export/${id}`;
    const spec = (input.IncrementalExportSpecification ?? {}) as Record<string, number | string>;
    const description: Record<string, unknown> = {
      ExportArn: arn,
      ExportId: id,
      ExportStatus: 'IN_PROGRESS',
      StartTime: seconds(Date.now()),
      TableArn: tableArn,
      S3Bucket: input.S3Bucket,
      S3Prefix: input.S3Prefix,
      ExportFormat: 'DYNAMODB_JSON',
      ExportType: incremental ? 'INCREMENTAL_EXPORT' : 'FULL_EXPORT',
      ...(incremental
        ? {
            IncrementalExportSpecification: {
              ExportFromTime: spec.ExportFromTime,
              ExportToTime: spec.ExportToTime ?? seconds(now),
              ExportViewType: spec.ExportViewType ?? 'NEW_AND_OLD_IMAGES',
            },
          }
        : { ExportTime: (input.ExportTime as number | undefined) ?? seconds(now) }),
    };
    const job: Job = { arn, input, description, describes: 0 };
    jobs.set(arn, job);
    const fail = failure;
    failure = undefined;
    job.done = (
      fail
        ? Promise.resolve().then(() => {
            Object.assign(description, { FailureCode: fail.code, FailureMessage: fail.message });
            throw new Error(fail.message);
          })
        : incremental
          ? incrementalExport(job, table)
          : fullExport(job, table)
    ).then(
      () => {
        job.description.ExportStatus = 'COMPLETED';
        job.description.EndTime = seconds(Date.now());
      },
      () => {
        job.description.ExportStatus = 'FAILED';
        job.description.EndTime = seconds(Date.now());
      },
    );
    const { ExportId: _id, ...shown } = description;
    return { ExportDescription: { ...shown, ExportStatus: 'IN_PROGRESS' } };
  }

  async function describe(input: Record<string, unknown>): Promise<unknown> {
    describes++;
    const job = jobs.get(String(input.ExportArn));
    if (!job)
      return new ServedError('ExportNotFoundException', `Export not found: ${String(input.ExportArn)}`);
    job.describes++;
    // The first poll always finds it running; later ones wait for the work to finish.
    if (job.describes > 1) await job.done;
    const { ExportId: _id, ...shown } = job.description;
    return { ExportDescription: job.describes > 1 ? shown : { ...shown, ExportStatus: 'IN_PROGRESS' } };
  }

  const proxy = await startFaultProxy(dynamoEndpoint, {
    rules: [
      {
        operation: /^(ExportTableToPointInTime|DescribeExport)$/,
        fault: {
          kind: 'serve',
          answer: (operation, input) => (operation === 'DescribeExport' ? describe(input) : start(input)),
        },
      },
    ],
  });
  return {
    endpoint: proxy.endpoint,
    proxy,
    started,
    describes: () => describes,
    disablePitr: (table) => noPitr.add(table),
    failNext: (code, message) => {
      failure = { code, message };
    },
    corruptNext: (fileIndex) => {
      corrupt = fileIndex === undefined ? {} : { fileIndex };
    },
    observe: async (table, writes) => {
      await observe(table, writes);
    },
  };
}
