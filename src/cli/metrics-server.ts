import { createServer, type Server } from 'node:http';
import { UsageError } from '../core/errors.js';
import type { CliIO } from './command.js';

/**
 * Serves `text()` as Prometheus text on http://127.0.0.1:PORT/metrics (503 while it is undefined);
 * a port in use is a UsageError. The server does not keep the process alive.
 */
export async function serveMetrics(port: number, text: () => string | undefined, io: CliIO): Promise<Server> {
  const server = createServer((req, res) => {
    const current = text();
    if (req.url?.split('?')[0] !== '/metrics' || !current) {
      res.writeHead(current ? 404 : 503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(current);
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
  io.stderr.write(`metrics on http://127.0.0.1:${actual}/metrics\n`);
  return server;
}
