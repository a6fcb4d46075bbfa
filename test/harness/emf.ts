/**
 * Checks a parsed log line against the CloudWatch Embedded Metric Format specification: the `_aws`
 * metadata (Timestamp, CloudWatchMetrics directives), dimension sets whose names are string members
 * of the root, and metrics whose values are numbers (or arrays of up to 100 numbers) on the root.
 */
import assert from 'node:assert/strict';

const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) assert.ok(allowed.includes(k), `${what} has an unknown member ${k}`);
}

export function assertValidEmf(doc: unknown): void {
  assert.ok(isObject(doc), 'an EMF document is a JSON object');
  const aws = doc._aws;
  assert.ok(isObject(aws), '_aws must be an object');
  assert.ok(Number.isInteger(aws.Timestamp) && (aws.Timestamp as number) > 0, '_aws.Timestamp: epoch ms');
  assert.ok(Array.isArray(aws.CloudWatchMetrics), '_aws.CloudWatchMetrics must be an array');
  for (const directive of aws.CloudWatchMetrics as unknown[]) {
    assert.ok(isObject(directive), 'a MetricDirective is an object');
    onlyKeys(directive, ['Namespace', 'Dimensions', 'Metrics'], 'MetricDirective');
    const ns = directive.Namespace;
    assert.ok(typeof ns === 'string' && ns.length >= 1 && ns.length <= 255, 'Namespace: 1-255 chars');
    assert.ok(Array.isArray(directive.Dimensions), 'Dimensions must be an array of dimension sets');
    for (const set of directive.Dimensions as unknown[]) {
      assert.ok(Array.isArray(set) && set.length <= 30, 'a DimensionSet is an array of at most 30 names');
      for (const name of set as unknown[]) {
        assert.equal(typeof name, 'string', 'dimension names are strings');
        assert.equal(typeof doc[name as string], 'string', `dimension ${String(name)} needs a string value`);
      }
    }
    assert.ok(Array.isArray(directive.Metrics), 'Metrics must be an array');
    assert.ok((directive.Metrics as unknown[]).length <= 100, 'at most 100 metrics per directive');
    for (const metric of directive.Metrics as unknown[]) {
      assert.ok(isObject(metric), 'a MetricDefinition is an object');
      onlyKeys(metric, ['Name', 'Unit', 'StorageResolution'], 'MetricDefinition');
      const name = metric.Name;
      assert.ok(typeof name === 'string' && name.length >= 1 && name.length <= 255, 'metric Name');
      if (metric.Unit !== undefined)
        assert.ok(UNITS.has(metric.Unit as string), `unit ${String(metric.Unit)}`);
      const value = doc[name];
      const values = Array.isArray(value) ? (value as unknown[]) : [value];
      assert.ok(values.length >= 1 && values.length <= 100, `metric ${name}: 1 to 100 values`);
      for (const v of values)
        assert.ok(typeof v === 'number' && Number.isFinite(v), `metric ${name} needs a number value`);
    }
  }
}
