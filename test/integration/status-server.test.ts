/**
 * The status page's server on a real loopback port, with a tracker fed by hand: its routes, headers,
 * liveness answers and refusals (other methods, unknown paths, a foreign Host header).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { startStatusPage, STATUS_PAGE_CSP } from '../../src/cli/status-server.js';
import type { RunnerStats } from '../../src/replicate/runner.js';
import { StatusTracker, type ReplicationStatus } from '../../src/replicate/status.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, path: string, options: { method?: string; host?: string } = {}): Promise<Answer> {
  const u = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      { method: options.method ?? 'GET', headers: options.host ? { host: options.host } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode as number,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const STATS: RunnerStats = {
  streamArn: 'arn:aws:dynamodb:us-east-1:1:table/t/stream/s',
  uptimeMs: 1000,
  records: 12,
  applied: 11,
  skipped: 1,
  rejected: 0,
  failedAttempts: 0,
  checkpoints: 3,
  lagMs: 0,
  shards: [
    { shardId: 'shard-1', state: 'reading', records: 12, lastSequenceNumber: '99', lagMs: 0, caughtUp: true },
  ],
};

test('routes: the page and its files, status.json, metrics, healthz; CSP and nosniff on every answer', async () => {
  const tracker = new StatusTracker({ source: 'us-east-1/t', replicas: ['eu-west-1/t'] });
  const page = await startStatusPage(0, tracker);
  try {
    assert.match(page.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const before = await get(page.url, '/metrics');
    assert.equal(before.status, 503, 'no Prometheus text before the stream runner starts');
    const health = await get(page.url, '/healthz');
    assert.deepEqual([health.status, health.body], [200, 'ok\n']);

    tracker.attach({ stats: () => STATS });
    const metrics = await get(page.url, '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4');
    assert.match(metrics.body, /^dynamodb_replicator_records_total\{stream="[^"]+"\} 12$/m);

    const status = await get(page.url, '/status.json');
    assert.equal(status.headers['content-type'], 'application/json');
    const json = JSON.parse(status.body) as ReplicationStatus;
    assert.deepEqual(
      [json.format, json.state, json.totals?.records, json.totals?.checkpoints, json.shards[0]?.position],
      ['dynamodb-replicator/status', 'running', 12, 3, '99'],
    );

    const html = await get(page.url, '/');
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(html.body, /<div id="chart"><\/div>/);
    const uplot = await get(page.url, '/uPlot.iife.min.js');
    const shipped = createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js');
    assert.equal(uplot.body, await readFile(shipped, 'utf8'));
    for (const answer of [metrics, status, html, uplot]) {
      assert.equal(answer.headers['content-security-policy'], STATUS_PAGE_CSP);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    }
    assert.match(STATUS_PAGE_CSP, /default-src 'none'/);

    const headOnly = await get(page.url, '/status.json', { method: 'HEAD' });
    assert.deepEqual([headOnly.status, headOnly.body], [200, '']);
    const post = await get(page.url, '/healthz', { method: 'POST' });
    assert.deepEqual([post.status, post.headers.allow], [405, 'GET, HEAD']);
    assert.equal((await get(page.url, '/../etc/passwd')).status, 404);
    assert.equal((await get(page.url, '/index.html')).status, 404);
    const rebound = await get(page.url, '/status.json', { host: 'attacker.example:8080' });
    assert.equal(rebound.status, 421);
    assert.equal((await get(page.url, '/status.json', { host: 'localhost:1234' })).status, 200);

    tracker.finish();
    const stopped = await get(page.url, '/healthz');
    assert.deepEqual([stopped.status, stopped.body], [503, 'stopped\n']);
  } finally {
    await page.close();
  }
});

test('a port in use is a usage error naming the option', async () => {
  const tracker = new StatusTracker({ source: 'a', replicas: [] });
  const first = await startStatusPage(0, tracker);
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(startStatusPage(port, tracker), /--metrics-port \d+: listen EADDRINUSE/);
  } finally {
    await first.close();
  }
});
