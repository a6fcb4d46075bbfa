/**
 * The Lambda handlers' metrics in CloudWatch Embedded Metric Format: every line must be a valid EMF
 * document (checked against the specification's rules below) and carry the batch's figures,
 * including the replication lag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchLagMs,
  emfDocument,
  emfLine,
  emitBatchMetrics,
  eventSourceTable,
} from '../../src/lambda/metrics.js';
import { assertValidEmf } from '../harness/emf.js';

const NOW = 1_800_000_000_000;

test('an EMF document names its namespace, dimension set and metrics, with the values on the root', () => {
  const doc = emfDocument({
    namespace: 'DynamoDBReplicator',
    dimensions: { SourceTable: 'users', ReplicaTable: 'eu-west-1/users' },
    metrics: [
      { name: 'RecordsReceived', unit: 'Count', value: 3 },
      { name: 'ReplicationLag', unit: 'Milliseconds', value: 1500 },
    ],
    timestamp: NOW,
  });
  assert.deepEqual(doc, {
    _aws: {
      Timestamp: NOW,
      CloudWatchMetrics: [
        {
          Namespace: 'DynamoDBReplicator',
          Dimensions: [['SourceTable', 'ReplicaTable']],
          Metrics: [
            { Name: 'RecordsReceived', Unit: 'Count' },
            { Name: 'ReplicationLag', Unit: 'Milliseconds' },
          ],
        },
      ],
    },
    SourceTable: 'users',
    ReplicaTable: 'eu-west-1/users',
    RecordsReceived: 3,
    ReplicationLag: 1500,
  });
  assertValidEmf(JSON.parse(emfLine({ namespace: 'N', dimensions: { A: 'a' }, metrics: [] })));
});

test('batch metrics: one valid line per replica with received, applied, failed, retries and the lag', () => {
  const lines: string[] = [];
  emitBatchMetrics((l) => lines.push(l), {
    namespace: 'Custom/Replication',
    sourceTable: 'users',
    destinations: [
      { dimension: 'ReplicaTable', value: 'eu-west-1/users' },
      { dimension: 'ReplicaTable', value: 'ap-south-1/users' },
    ],
    figures: {
      received: 10,
      applied: 7,
      failed: 2,
      rejected: 1,
      retries: 4,
      creationTimes: [NOW - 2_000, NOW - 9_000, NOW - 1_000],
    },
    now: NOW,
  });
  assert.equal(lines.length, 2);
  const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  docs.forEach(assertValidEmf);
  assert.deepEqual(
    docs.map((d) => d.ReplicaTable),
    ['eu-west-1/users', 'ap-south-1/users'],
  );
  for (const d of docs) {
    assert.equal(d.SourceTable, 'users');
    assert.equal(d.RecordsReceived, 10);
    assert.equal(d.ChangesApplied, 7);
    assert.equal(d.FailedRecords, 2);
    assert.equal(d.RejectedRecords, 1);
    assert.equal(d.Retries, 4);
    // The oldest record of the batch sets the lag.
    assert.equal(d.ReplicationLag, 9_000);
    const directive = (d._aws as { CloudWatchMetrics: { Namespace: string; Metrics: unknown[] }[] })
      .CloudWatchMetrics[0];
    assert.equal(directive?.Namespace, 'Custom/Replication');
    assert.deepEqual(directive?.Metrics, [
      { Name: 'RecordsReceived', Unit: 'Count' },
      { Name: 'ChangesApplied', Unit: 'Count' },
      { Name: 'FailedRecords', Unit: 'Count' },
      { Name: 'RejectedRecords', Unit: 'Count' },
      { Name: 'Retries', Unit: 'Count' },
      { Name: 'ReplicationLag', Unit: 'Milliseconds' },
    ]);
  }
});

test('without creation times there is no lag metric; a clock behind the records gives lag 0', () => {
  const lines: string[] = [];
  const emit = (creationTimes: number[]): Record<string, unknown> => {
    lines.length = 0;
    emitBatchMetrics((l) => lines.push(l), {
      namespace: 'N',
      sourceTable: 't',
      destinations: [{ dimension: 'ReplicaTable', value: 'r' }],
      figures: { received: 1, applied: 1, failed: 0, rejected: 0, retries: 0, creationTimes },
      now: NOW,
    });
    return JSON.parse(lines[0] as string) as Record<string, unknown>;
  };
  const none = emit([]);
  assertValidEmf(none);
  assert.equal('ReplicationLag' in none, false);
  assert.equal(emit([NOW + 5_000]).ReplicationLag, 0);
  assert.equal(batchLagMs([], NOW), undefined);
  assert.equal(batchLagMs([NOW - 10, NOW - 30], NOW), 30);
});

test('invalid documents are refused rather than silently dropped by CloudWatch', () => {
  assert.throws(
    () =>
      emfDocument({ namespace: 'N', dimensions: {}, metrics: [{ name: 'X', unit: 'Count', value: NaN }] }),
    /finite/,
  );
  assert.throws(() => emfDocument({ namespace: '', dimensions: {}, metrics: [] }), /namespace/);
  const many = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`D${i}`, 'v']));
  assert.throws(() => emfDocument({ namespace: 'N', dimensions: many, metrics: [] }), /30 dimensions/);
});

test('the source table comes from the event source ARN', () => {
  const arn = 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000';
  assert.equal(eventSourceTable({ Records: [{ eventSourceARN: arn }] }), 'users');
  assert.equal(eventSourceTable({ Records: [] }), 'unknown');
  assert.equal(eventSourceTable({ Records: [{ eventSourceARN: 'nonsense' }] }), 'unknown');
});
