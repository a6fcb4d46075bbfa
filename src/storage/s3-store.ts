import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  NetworkTimeoutError,
  NotFoundError,
  ReplicatorError,
  ServiceError,
  UsageError,
} from '../core/errors.js';
import type { Identity } from '../core/location.js';
import {
  endpointOrigin,
  isNetworkTimeout,
  networkClientConfig,
  resolveNetwork,
  timeoutDetail,
  type NetworkOptions,
} from '../core/network.js';
import { identityCredentials, identityText, regionProvider } from '../dynamodb/aws-identity.js';
import { S3RequestHandler, watchBody } from './s3-transport.js';
import {
  folderPrefix,
  joinKey,
  readAll,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  type StoreLocation,
} from './object-store.js';

export interface S3StoreOptions {
  /** A ready client; otherwise one is created from region/endpoint/credentials below. */
  readonly client?: S3Client;
  /** The bucket's region; default: looked up from the bucket (see createS3Client). */
  readonly region?: string;
  /** Who the bucket is reached as; replaces `credentials` (which then only assume a role). */
  readonly identity?: Identity;
  /** An S3-compatible endpoint (e.g. s3rver); implies path-style addressing unless set otherwise. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  readonly credentials?: S3ClientConfig['credentials'];
  /** Encrypt new objects with this KMS key (SSE-KMS). */
  readonly sseKmsKeyId?: string;
  /** Refuse to talk to a bucket owned by another account (sent with every request). */
  readonly expectedBucketOwner?: string;
  /** Multipart part size for streamed uploads; at least 5 MiB. */
  readonly partSize?: number;
  /** Parts uploaded in parallel per object; memory is at most partSize * queueSize per upload. */
  readonly queueSize?: number;
  /**
   * List sub-folders with S3's Delimiter (one request per 1,000 folders). Default: true on AWS, false
   * with an endpoint override, because some S3-compatible servers (s3rver) drop common prefixes
   * more than one level deep; then folders are derived from a full listing.
   */
  readonly delimiterListing?: boolean;
  /**
   * Connection and idle timeouts and attempts (defaults in DEFAULT_NETWORK). S3 calls get no
   * whole-request deadline: a large part upload may take as long as it needs while bytes flow.
   */
  readonly network?: Partial<NetworkOptions>;
}

function s3Region(options: S3StoreOptions): string {
  return options.region ?? process.env.AWS_REGION ?? 'us-east-1';
}

/** When nothing else names a region, S3 requests start here (and the bucket says where it is). */
const S3_DEFAULT_REGION = 'us-east-1';

function headerRegion(headers: Record<string, string | undefined> | undefined): string | undefined {
  return headers?.['x-amz-bucket-region'];
}

/**
 * The bucket's region, asked of S3 once: HeadBucket from `start` answers with the bucket's region
 * (`x-amz-bucket-region`) whether it succeeds, redirects (301 PermanentRedirect) or is refused (403).
 * When no answer names one (an S3-compatible server, a missing bucket), `start` is kept and the
 * real request reports the problem.
 */
function bucketRegionProvider(bucket: string, start: () => Promise<string>, config: S3ClientConfig) {
  let found: Promise<string> | undefined;
  const lookUp = async (): Promise<string> => {
    const region = await start();
    const probe = new S3Client({ ...config, region, maxAttempts: 2 });
    try {
      const out = await probe.send(new HeadBucketCommand({ Bucket: bucket }));
      return out.BucketRegion ?? region;
    } catch (error) {
      const response = (error as { $response?: { headers?: Record<string, string | undefined> } }).$response;
      return headerRegion(response?.headers) ?? region;
    } finally {
      probe.destroy();
    }
  };
  return () =>
    (found ??= lookUp().catch((error: unknown) => {
      found = undefined;
      throw error;
    }));
}

/**
 * An S3 client for `bucket`. Region: `options.region`, else the bucket's own region looked up
 * from AWS_REGION, AWS_DEFAULT_REGION, the profile's region or us-east-1 as a starting point.
 * Credentials: the location's identity, else `options.credentials`, else the default chain.
 */
export function createS3Client(options: S3StoreOptions, bucket?: string): S3Client {
  if (options.client) return options.client;
  const label = `s3://${bucket ?? ''}${options.identity ? ` (${identityText(options.identity)})` : ''}`;
  const start = regionProvider(options.identity?.profile, label, S3_DEFAULT_REGION);
  const endpointConfig: S3ClientConfig = options.endpoint
    ? {
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle ?? true,
        // S3-compatible servers rarely support the SDK's default flexible checksums (aws-chunked).
        requestChecksumCalculation: 'WHEN_REQUIRED' as const,
        responseChecksumValidation: 'WHEN_REQUIRED' as const,
      }
    : options.forcePathStyle !== undefined
      ? { forcePathStyle: options.forcePathStyle }
      : {};
  const network = networkClientConfig(options.network, 'bulk');
  const credentials =
    identityCredentials(options.identity, {
      label,
      region: options.region ?? start,
      network: networkClientConfig(options.network),
      ...(options.credentials ? { base: options.credentials } : {}),
    }) ?? options.credentials;
  // The region probe gets these settings too, but a handler of its own: destroying the probe must
  // not close the client's connections.
  const config: S3ClientConfig = { ...network, ...endpointConfig, ...(credentials ? { credentials } : {}) };
  const region =
    options.region ?? (bucket === undefined ? start : bucketRegionProvider(bucket, start, config));
  return new S3Client({ ...config, requestHandler: new S3RequestHandler(options.network), region });
}

function errorName(error: unknown): string | undefined {
  return error instanceof S3ServiceException ? error.name : (error as { name?: string } | undefined)?.name;
}

function status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * The S3 backend. Buffers go up in one PutObject with Content-MD5; streams go through lib-storage's
 * Upload (a single PUT when small, multipart otherwise) so memory stays bounded by the part size.
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: StoreLocation;
  readonly client: S3Client;

  constructor(
    readonly bucket: string,
    private readonly root: string,
    private readonly options: S3StoreOptions = {},
    client?: S3Client,
  ) {
    this.root = joinKey(root);
    this.location = {
      kind: 's3',
      bucket,
      prefix: this.root,
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.identity ? { identity: options.identity } : {}),
    };
    this.client = client ?? createS3Client(options, bucket);
  }

  at(subPrefix: string): ObjectStore {
    return new S3ObjectStore(this.bucket, joinKey(this.root, subPrefix), this.options, this.client);
  }

  private keyOf(key: string): string {
    return joinKey(this.root, key);
  }

  private url(key: string): string {
    return `s3://${this.bucket}/${this.keyOf(key)}`;
  }

  private owner() {
    return this.options.expectedBucketOwner ? { ExpectedBucketOwner: this.options.expectedBucketOwner } : {};
  }

  /** Where requests go, for messages: the endpoint's scheme, host and port (never its userinfo) or the region. */
  private endpointLabel(): string {
    if (this.options.endpoint) return endpointOrigin(this.options.endpoint);
    return `region ${s3Region(this.options)}`;
  }

  private translate(error: unknown, action: string, key: string): Error {
    if (error instanceof ReplicatorError) return error; // already says what failed, e.g. a stalled body
    const name = errorName(error);
    if (name === 'NoSuchBucket')
      return new NotFoundError(`S3 bucket "${this.bucket}" does not exist (${action} ${this.url(key)})`, {
        cause: error,
      });
    if (status(error) === 301) {
      const region = headerRegion(
        (error as { $response?: { headers?: Record<string, string | undefined> } }).$response?.headers,
      );
      return new UsageError(
        `S3 ${action} ${this.url(key)}: bucket "${this.bucket}" is in ${region ? `region ${region}` : 'another region'}, ` +
          `not ${this.options.region ?? 'the region asked'}: ${region ? `set ?region=${region} or ` : ''}leave ?region= out`,
        { cause: error },
      );
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status(error) === 404)
      return new NotFoundError(`no object ${this.url(key)}`, { cause: error });
    if (isNetworkTimeout(error))
      return new NetworkTimeoutError(
        `S3 ${action} ${this.url(key)} at ${this.endpointLabel()} ${timeoutDetail(error)}`,
        { cause: error },
      );
    const message = error instanceof Error ? error.message : String(error);
    return new ServiceError(`S3 ${action} ${this.url(key)} failed: ${name ?? ''} ${message}`.trim(), {
      cause: error,
    });
  }

  async put(
    key: string,
    body: Buffer | Uint8Array | string | Readable,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.keyOf(key),
      ...this.owner(),
      ...(options.contentType ? { ContentType: options.contentType } : {}),
      ...(this.options.sseKmsKeyId
        ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.options.sseKmsKeyId }
        : {}),
    };
    try {
      if (body instanceof Readable) {
        const upload = new Upload({
          client: this.client,
          params: { ...params, Body: body },
          partSize: Math.max(this.options.partSize ?? 8 * 1024 * 1024, 5 * 1024 * 1024),
          queueSize: this.options.queueSize ?? 4,
          leavePartsOnError: false,
        });
        const out = await upload.done();
        return out.ETag ? { etag: out.ETag.replace(/"/g, '') } : {};
      }
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const out = await this.client.send(
        new PutObjectCommand({
          ...params,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentMD5: createHash('md5').update(bytes).digest('base64'),
        }),
      );
      return out.ETag ? { etag: out.ETag.replace(/"/g, '') } : {};
    } catch (error) {
      throw this.translate(error, 'put', key);
    }
  }

  async create(key: string, body: Buffer | Uint8Array | string): Promise<boolean> {
    // The check first: a server that ignores If-None-Match (s3rver) still refuses an existing key.
    if (await this.exists(key)) return false;
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(key),
          ...this.owner(),
          ...(this.options.sseKmsKeyId
            ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.options.sseKmsKeyId }
            : {}),
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentMD5: createHash('md5').update(bytes).digest('base64'),
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (error) {
      // 412: the key exists; 409: a concurrent conditional write to the same key won.
      if (status(error) === 412 || status(error) === 409) return false;
      throw this.translate(error, 'create', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    const stream = await this.getStream(key);
    try {
      return await readAll(stream);
    } catch (error) {
      throw this.translate(error, 'get', key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), ...this.owner() }),
      );
      if (!out.Body) return Readable.from([]);
      const { idleTimeoutMs } = resolveNetwork(this.options.network);
      return watchBody(
        out.Body as Readable,
        idleTimeoutMs,
        () =>
          new NetworkTimeoutError(
            `S3 get ${this.url(key)} at ${this.endpointLabel()} timed out (no byte of the body for ${idleTimeoutMs} ms while it was being read)`,
          ),
      );
    } catch (error) {
      throw this.translate(error, 'get', key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), ...this.owner() }),
      );
      return true;
    } catch (error) {
      const translated = this.translate(error, 'head', key);
      if (translated instanceof NotFoundError && errorName(error) !== 'NoSuchBucket') return false;
      throw translated;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), ...this.owner() }),
      );
    } catch (error) {
      throw this.translate(error, 'delete', key);
    }
  }

  /** ListObjectsV2 pages under the folder `prefix`, following continuation tokens. */
  private async *pages(prefix: string, delimiter?: string) {
    const listPrefix = folderPrefix(joinKey(this.root, prefix));
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: listPrefix,
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
            ...this.owner(),
          }),
        );
      } catch (error) {
        throw this.translate(error, 'list', prefix);
      }
      yield { listPrefix, out };
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const rootFolder = folderPrefix(this.root);
    for await (const { out } of this.pages(prefix)) {
      for (const o of out.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue; // folder placeholder objects
        yield {
          key: o.Key.slice(rootFolder.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
        };
      }
    }
  }

  async listFolders(prefix: string): Promise<string[]> {
    const folders = new Set<string>();
    if (!(this.options.delimiterListing ?? !this.options.endpoint)) {
      for await (const o of this.list(prefix)) {
        const rest = o.key.slice(folderPrefix(prefix).length);
        const slash = rest.indexOf('/');
        if (slash > 0) folders.add(rest.slice(0, slash));
      }
    } else {
      for await (const { listPrefix, out } of this.pages(prefix, '/')) {
        for (const p of out.CommonPrefixes ?? []) {
          const name = p.Prefix?.slice(listPrefix.length, -1);
          if (name) folders.add(name);
        }
      }
    }
    return [...folders].sort();
  }
}
