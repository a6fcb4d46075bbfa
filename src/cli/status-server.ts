import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { backupCoverage } from '../backup/coverage.js';
import { UsageError } from '../core/errors.js';
import { redactUrls } from '../core/redact.js';
import { prometheusText } from '../replicate/metrics.js';
import type { ReplicationStatus, StatusTracker } from '../replicate/status.js';
import type { ObjectStore } from '../storage/object-store.js';

/** What the server shows; each is read at request time. */
export interface StatusSource {
  /** Prometheus text, undefined before the runner starts (503). */
  metrics(): string | undefined;
  status(): ReplicationStatus;
  /** Liveness: false once the runner loop stopped or failed (503 on /healthz). */
  alive(): boolean;
}

/** The page may load its own files and poll status.json; nothing else, from nowhere else. */
export const STATUS_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
  '/uPlot.iife.min.js': { file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/uPlot.min.css': { file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

/**
 * The page's files: next to this module in `status-page/` (the build copies uPlot there); when run
 * from the sources, uPlot comes from node_modules.
 */
function loadPageFiles(): Map<string, Buffer> {
  const dir = new URL('./status-page/', import.meta.url);
  const files = new Map<string, Buffer>();
  for (const [route, { file }] of Object.entries(PAGE_FILES)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(new URL(file, dir));
    } catch (error) {
      if (!file.startsWith('uPlot')) throw error;
      bytes = readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`));
    }
    files.set(route, bytes);
  }
  return files;
}

/** Host headers of requests made to the loopback address (any port: tunnels and port-forwards map it). */
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;

const COMMON_HEADERS = {
  'content-security-policy': STATUS_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

/**
 * Serves the status page (`/`), its JSON (`/status.json`), Prometheus text (`/metrics`) and a
 * liveness probe (`/healthz`) on http://127.0.0.1:PORT; a port in use is a UsageError. The server
 * does not keep the process alive.
 */
export async function serveStatus(
  port: number,
  source: StatusSource,
): Promise<{ server: Server; url: string }> {
  const files = loadPageFiles();
  const server = createServer((req, res) => {
    const head = req.method === 'HEAD';
    if (!LOOPBACK_HOST.test(req.headers.host ?? '')) {
      // A web page whose name was re-pointed at 127.0.0.1 (DNS rebinding) must not read the status.
      send(res, 421, 'text/plain', 'the Host must be 127.0.0.1, localhost or [::1]\n', head);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { ...COMMON_HEADERS, allow: 'GET, HEAD' }).end();
      return;
    }
    const route = (req.url ?? '/').split('?')[0] as string;
    const page = files.get(route);
    if (page) return send(res, 200, (PAGE_FILES[route] as { type: string }).type, page, head);
    if (route === '/favicon.ico') return send(res, 204, 'text/plain', '', head); // browsers ask
    if (route === '/status.json')
      return send(res, 200, 'application/json', JSON.stringify(source.status()), head);
    if (route === '/healthz') {
      const alive = source.alive();
      return send(res, alive ? 200 : 503, 'text/plain', alive ? 'ok\n' : 'stopped\n', head);
    }
    const metrics = route === '/metrics' ? source.metrics() : undefined;
    if (route === '/metrics' && metrics === undefined) return send(res, 503, 'text/plain', '', head);
    if (metrics !== undefined) return send(res, 200, 'text/plain; version=0.0.4', metrics, head);
    send(res, 404, 'text/plain', 'not found\n', head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new UsageError(`--metrics-port ${port}: ${(error as Error).message}`, { cause: error })),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.unref();
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return { server, url: `http://127.0.0.1:${actual}/` };
}

/**
 * How often the change log's coverage is read again for the page: a listing of the whole log, one
 * LIST request per 1,000 objects on S3, so not often.
 */
const COVERAGE_EVERY_MS = 5 * 60_000;

export interface StatusPage {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The status page of one runner: the server, the tracker's once-a-second tick, and (with a change
 * log) its coverage read now and every 5 minutes. `close` stops all three.
 */
export async function startStatusPage(
  port: number,
  tracker: StatusTracker,
  options: {
    readonly changeLog?: ObjectStore;
    readonly coverageEveryMs?: number;
    /** More Prometheus text after the runner's (the verify loop's gauges). */
    readonly moreMetrics?: () => string;
  } = {},
): Promise<StatusPage> {
  const changeLog = options.changeLog;
  const { server, url } = await serveStatus(port, {
    metrics: () => {
      const runner = tracker.current;
      return runner && prometheusText(runner.stats()) + (options.moreMetrics?.() ?? '');
    },
    status: () => tracker.snapshot(Date.now()),
    alive: () => tracker.alive,
  });
  const ticker = setInterval(() => tracker.tick(Date.now()), 1_000);
  ticker.unref();
  let reading: Promise<void> | undefined;
  const readCoverage = (): void => {
    if (!changeLog || reading) return;
    reading = backupCoverage(changeLog)
      .then(
        (coverage) => tracker.setBackup(coverage),
        (error: unknown) => tracker.setBackup({ error: redactUrls((error as Error).message) }),
      )
      .finally(() => (reading = undefined));
  };
  readCoverage();
  const coverage = changeLog
    ? setInterval(readCoverage, options.coverageEveryMs ?? COVERAGE_EVERY_MS)
    : undefined;
  coverage?.unref();
  return {
    url,
    close: async () => {
      clearInterval(ticker);
      clearInterval(coverage);
      await reading;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // a browser left open must not hold the runner's exit
      await closed;
    },
  };
}
