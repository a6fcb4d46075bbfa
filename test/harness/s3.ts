import { after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { LOCAL_CREDENTIALS, freePort } from '../../src/embedded/dynamodb-local.js';
import { uniqueName } from './dynamodb.js';

export interface LocalS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  createBucket(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** s3rver in-process on a free port, files in a temp dir; stopped after the test file. No versioning. */
export async function startLocalS3(): Promise<LocalS3> {
  const dir = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  const port = await freePort();
  const server = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const stop = async () => {
    client.destroy();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  };
  after(stop);
  return {
    endpoint,
    client,
    async createBucket(name = uniqueName('bucket')) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    stop,
  };
}

export { LOCAL_CREDENTIALS };
