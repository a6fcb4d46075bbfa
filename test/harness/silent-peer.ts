/**
 * A TCP server that accepts connections and then never answers (`silent`), or answers with a status
 * line, headers and the start of a body and then stalls (`stall`; a HEAD stalls inside the headers). A fake on purpose: no real
 * component (DynamoDB Local, s3rver) hangs on request, and a hung peer is the fault under test.
 */
import { after } from 'node:test';
import { createServer, type Socket } from 'node:net';

export interface SilentPeer {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** `127.0.0.1:PORT` */
  readonly hostPort: string;
  /** Connections accepted so far (each attempt of each request opens or reuses one). */
  connections(): number;
  /** Requests whose first bytes arrived. */
  requests(): number;
  close(): Promise<void>;
}

export async function startSilentPeer(mode: 'silent' | 'stall'): Promise<SilentPeer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let requests = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      requests++;
      if (mode !== 'stall') return;
      // Status line and headers, then part of a body that never ends; a HEAD response has no body,
      // so it stalls inside the headers instead.
      const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n';
      const isHead = chunk.subarray(0, 5).toString('latin1') === 'HEAD ';
      socket.write(isHead ? head : `${head}Content-Length: 4096\r\n\r\n{"Table":{"Tab`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const hostPort = `127.0.0.1:${address.port}`;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  after(close);
  return {
    endpoint: `http://${hostPort}`,
    hostPort,
    connections: () => connections,
    requests: () => requests,
    close,
  };
}
