/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The status page in a real browser (headless Chromium from the system, driven by puppeteer-core)
 * while a runner replicates on DynamoDB Local with a change log: the chart has data points, the
 * page's numbers equal /metrics at the same moment (writes paused), labels are shown as text, the
 * Content-Security-Policy holds (no request leaves the server), and /healthz turns 503 once the
 * runner stops. A screenshot is saved to test-output/status-page.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { backupCoverage } from '../../src/backup/coverage.js';
import { startStatusPage, STATUS_PAGE_CSP } from '../../src/cli/status-server.js';
import { FileCheckpointStore } from '../../src/replicate/checkpoint.js';
import { replicateTable } from '../../src/replicate/replicate-table.js';
import { StatusTracker, type ReplicationStatus } from '../../src/replicate/status.js';
import { FileObjectStore } from '../../src/storage/fs-store.js';
import { waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { scanAll } from '../harness/table-items.js';
import { putItems } from '../harness/table-load.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCREENSHOT = path.join(ROOT, 'test-output/status-page.png');
/** A label no page may turn into markup (labels are free text; `__proto__` is a legal name). */
const HOSTILE_LABEL = '<img src=x onerror="window.__injected=1">__proto__ & "x"';

/** CHROMIUM_PATH, else Debian's and other usual install paths; .ci/run installs Debian's. */
function chromiumPath(): string {
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `no Chromium found (looked at ${candidates.join(', ')}): install it (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  return found;
}

/** Prometheus samples by name and labels, e.g. `dynamodb_replicator_records_total{stream="…"}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** The figures the page shows, read from its DOM (what a person sees), not from its data. */
async function pageFigures(
  page: Page,
): Promise<{ totals: Record<string, string>; shards: Record<string, string> }> {
  return page.evaluate(() => {
    const totals: Record<string, string> = {};
    for (const node of document.querySelectorAll<HTMLElement>('#totals [data-field]'))
      totals[node.dataset.field as string] = node.textContent ?? '';
    const shards: Record<string, string> = {};
    for (const row of document.querySelectorAll<HTMLElement>('#shards tbody tr'))
      shards[row.dataset.shard as string] = row.querySelector('.records')?.textContent ?? '';
    return { totals, shards };
  });
}

const updates = (page: Page): Promise<number> =>
  page.evaluate(() => (window as unknown as { statusPage: { updates: number } }).statusPage.updates);

test('the status page in headless Chromium: chart data, numbers equal to /metrics, CSP, healthz', async (t) => {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const streams = streamsClient(endpoint, 'us-east-1');
  const sourceTable = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(replica);
  const dir = await mkdtemp(path.join(tmpdir(), 'status-page-'));
  const changeLog = new FileObjectStore(path.join(dir, 'log')).at(sourceTable);
  await putItems(
    source,
    sourceTable,
    Array.from({ length: 100 }, (_, i) => ({ id: { S: `base${i}` } })),
  );

  const tracker = new StatusTracker({ source: HOSTILE_LABEL, replicas: [`eu-west-1/${replicaTable}`] });
  const status = await startStatusPage(0, tracker, { changeLog, coverageEveryMs: 500 });
  const stop = new AbortController();
  const running = replicateTable({
    source: { client: source, table: sourceTable, label: HOSTILE_LABEL },
    streams,
    replicas: [{ client: replica, table: replicaTable }],
    checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
    changeLog,
    backfill: true,
    signal: stop.signal,
    onEvent: (event) => tracker.onEvent(event, Date.now()),
    onRunner: (runner) => tracker.attach(runner, Date.now()),
    onBatch: (event) => tracker.onBatch(event),
  }).then(
    () => tracker.finish(),
    (error: unknown) => tracker.finish(error),
  );

  let browser: Browser | undefined;
  try {
    const health = await fetch(new URL('healthz', status.url));
    assert.equal(health.status, 200);
    // The backfill (copy and base snapshot of the 100 items) first; every later write is a stream record.
    await waitFor(async () => tracker.snapshot(Date.now()).state === 'running', 60_000, 'the backfill');
    // Three rounds of writes, so the chart has seconds with records in them.
    for (let round = 0; round < 3; round++) {
      await putItems(
        source,
        sourceTable,
        Array.from({ length: 50 }, (_, i) => ({ id: { S: `r${round}-${i}` }, n: { N: String(i) } })),
      );
      const want = 100 + 50 * (round + 1);
      await waitFor(
        async () => (await scanAll(replica, replicaTable)).length === want,
        60_000,
        `${want} items on the replica`,
      );
    }
    // Writes are paused from here on: wait until the runner has seen all 150 changes and is caught up.
    await waitFor(
      async () => {
        const s = tracker.snapshot(Date.now());
        return (
          s.totals?.records === 150 &&
          s.shards.every((x) => x.state !== 'reading' || x.caughtUp) &&
          s.history.t.length >= 3 &&
          s.backup !== undefined &&
          !('error' in s.backup) &&
          s.backup.snapshots.length === 1 &&
          s.backup.lastChange !== undefined
        );
      },
      60_000,
      'the runner caught up, 3 samples and the coverage of the change log',
    ).catch((error: unknown) => {
      const s = tracker.snapshot(Date.now());
      throw new Error(
        `${(error as Error).message}: ${JSON.stringify({ ...s, history: s.history.t.length })}`,
      );
    });

    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 1100 });
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    const response = await page.goto(status.url, { waitUntil: 'load' });
    assert.equal(response?.headers()['content-security-policy'], STATUS_PAGE_CSP);
    await page.waitForFunction(
      () => {
        const p = (window as unknown as { statusPage: { updates: number; status?: ReplicationStatus } })
          .statusPage;
        return p.updates >= 2 && p.status?.backup !== undefined;
      },
      { timeout: 60_000 },
    );

    // The chart holds the samples of status.json: at least 3 seconds, with lag and rate values.
    const chart = await page.evaluate(() => {
      const p = (window as unknown as { statusPage: { chart: { data: (number | null)[][] } } }).statusPage;
      return p.chart.data.map((series) => [...series]);
    });
    assert.equal(chart.length, 4, 'time, lag p50, lag p99, records/s');
    const points = (chart[0] as number[]).length;
    assert.ok(points >= 3, `the chart has ${points} points`);
    for (const series of chart) assert.equal(series.length, points);
    assert.ok(
      (chart[3] as number[]).some((rate) => rate > 0),
      'some second applied records',
    );
    assert.ok((chart[1] as (number | null)[]).every((v) => v === null || v >= 0));
    const canvas = await page.$eval('#chart canvas', (c) => ({
      width: (c as HTMLCanvasElement).width,
      height: (c as HTMLCanvasElement).height,
    }));
    assert.ok(canvas.width > 0 && canvas.height > 0);

    // The same moment on both sides: /metrics, then a fresh poll drawn, then /metrics again; repeated
    // until nothing moved in between (the runner may still save a checkpoint after catching up).
    let figures: Awaited<ReturnType<typeof pageFigures>> | undefined;
    let metrics: Map<string, number> | undefined;
    for (let attempt = 0; attempt < 20 && !figures; attempt++) {
      const before = await (await fetch(new URL('metrics', status.url))).text();
      const seen = await updates(page);
      await page.waitForFunction(
        (n: number) => (window as unknown as { statusPage: { updates: number } }).statusPage.updates > n,
        { timeout: 30_000 },
        seen,
      );
      const read = await pageFigures(page);
      const after = await (await fetch(new URL('metrics', status.url))).text();
      const strip = (text: string) =>
        text.replace(/^dynamodb_replicator_(uptime_seconds|lag_milliseconds)\{.*$/gm, '');
      if (strip(before) === strip(after)) {
        figures = read;
        metrics = samples(after);
      }
    }
    assert.ok(figures && metrics, '/metrics stood still across one poll of the page');
    const streamArn = tracker.snapshot(Date.now()).source.streamArn as string;
    const stream = `stream="${streamArn}"`;
    const metric = (name: string, labels = stream) => metrics?.get(`dynamodb_replicator_${name}{${labels}}`);
    assert.equal(figures.totals.records, String(metric('records_total')));
    assert.equal(figures.totals.applied, String(metric('applied_total')));
    assert.equal(figures.totals.skipped, String(metric('skipped_total')));
    assert.equal(figures.totals.rejected, String(metric('rejected_total')));
    assert.equal(figures.totals.failedAttempts, String(metric('failed_attempts_total')));
    assert.equal(figures.totals.checkpoints, String(metric('checkpoints_total')));
    assert.equal(figures.totals.lagMs, `${metric('lag_milliseconds')} ms`);
    assert.equal(figures.totals.records, '150');
    const shardIds = Object.keys(figures.shards);
    assert.ok(shardIds.length >= 1);
    for (const shard of shardIds)
      assert.equal(
        figures.shards[shard],
        String(metric('shard_records_total', `${stream},shard="${shard}"`)),
        `records of ${shard}`,
      );

    // Labels are text: the hostile label is shown as written, and no element came of it.
    const label = await page.$eval('#source', (node) => ({
      text: node.textContent,
      children: node.children.length,
      injected: typeof (window as unknown as { __injected?: number }).__injected,
    }));
    assert.deepEqual(label, { text: HOSTILE_LABEL, children: 0, injected: 'undefined' });

    // The change log's timeline: one base snapshot of the 100 items, and the coverage the engine reads.
    const coverage = await backupCoverage(changeLog);
    const shown = await page.evaluate(() => ({
      hidden: (document.getElementById('backup') as HTMLElement).hidden,
      snapshots: document.querySelectorAll('#timeline .snapshot').length,
      covered: document.querySelectorAll('#timeline .covered').length,
      gaps: document.querySelectorAll('#timeline .gap').length,
      backup: (window as unknown as { statusPage: { status: ReplicationStatus } }).statusPage.status.backup,
    }));
    assert.deepEqual(
      { hidden: shown.hidden, snapshots: shown.snapshots, covered: shown.covered, gaps: shown.gaps },
      { hidden: false, snapshots: 1, covered: 1, gaps: 0 },
    );
    assert.equal(coverage.snapshots[0]?.itemCount, 100);
    assert.deepEqual(
      shown.backup && 'snapshots' in shown.backup ? shown.backup.snapshots : undefined,
      coverage.snapshots,
    );
    // Group mode's conflicts slot stays hidden outside group mode.
    assert.equal(await page.$eval('#conflicts-slot', (node) => (node as HTMLElement).hidden), true);

    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.diagnostic(`status page screenshot: ${path.relative(ROOT, SCREENSHOT)}`);

    // Nothing was fetched from anywhere but the runner's own server, and the CSP refused nothing.
    const origin = new URL(status.url).origin;
    assert.deepEqual(
      requested.filter((url) => !url.startsWith(origin)),
      [],
    );
    assert.deepEqual(problems, []);

    stop.abort();
    await running;
    const afterStop = await fetch(new URL('healthz', status.url));
    assert.equal(afterStop.status, 503);
    assert.equal(tracker.snapshot(Date.now()).state, 'stopped');
  } finally {
    stop.abort();
    await running;
    await browser?.close();
    await status.close();
    source.destroy();
    replica.destroy();
    streams.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
