/**
 * How S3 requests keep their deadlines without cutting short a slow but healthy transfer.
 *
 * Uploads, listings, HEAD and DELETE have the connection and idle deadlines: an upload's socket is
 * busy as long as bytes flow, however large the part. A download is different: a slow consumer (a
 * restore writing at its budget) holds the socket paused on purpose, and a socket idle timer cannot
 * tell that from a peer that went silent. So object downloads get the idle deadline only for the
 * answer's headers, and their bodies are watched by `watchBody`, whose clock runs only while the
 * reader waits for bytes.
 */
import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { networkClientConfig, type NetworkOptions } from '../core/network.js';

type Handle = NodeHttpHandler['handle'];
type Update = NodeHttpHandler['updateHttpClientConfig'];

/** Two Node.js request handlers (each with its own connection pool): one for downloads, one for the rest. */
export class S3RequestHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly general: NodeHttpHandler;
  private readonly downloads: NodeHttpHandler;

  constructor(network: Partial<NetworkOptions> = {}) {
    this.general = new NodeHttpHandler(networkClientConfig(network, 'bulk').requestHandler);
    this.downloads = new NodeHttpHandler(networkClientConfig(network, 'download').requestHandler);
  }

  handle(...args: Parameters<Handle>): ReturnType<Handle> {
    const [request] = args;
    // GetObject is the only GET of a key; ListObjectsV2 always carries list-type=2.
    const download = request.method === 'GET' && !('list-type' in (request.query ?? {}));
    return (download ? this.downloads : this.general).handle(...args);
  }

  updateHttpClientConfig(...args: Parameters<Update>): void {
    this.general.updateHttpClientConfig(...args);
    this.downloads.updateHttpClientConfig(...args);
  }

  httpHandlerConfigs(): ReturnType<NodeHttpHandler['httpHandlerConfigs']> {
    return this.general.httpHandlerConfigs();
  }

  destroy(): void {
    this.general.destroy();
    this.downloads.destroy();
  }
}

/**
 * The body of a download with an idle deadline that runs only while its reader waits for bytes: a
 * peer silent for `idleMs` while data is wanted fails the stream with `onStall()`; a reader may pause
 * as long as it likes. The original body is destroyed when the returned stream ends or is destroyed.
 */
export function watchBody(body: Readable, idleMs: number, onStall: () => Error): Readable {
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  async function* watched(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const next = chunks.next();
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(onStall()), idleMs);
        });
        let step: IteratorResult<Buffer>;
        try {
          step = await Promise.race([next, stalled]);
        } catch (error) {
          next.catch(() => {}); // abandoned: the body is destroyed below
          throw error;
        } finally {
          clearTimeout(timer);
        }
        if (step.done) return;
        yield step.value;
      }
    } finally {
      body.destroy();
    }
  }
  return Readable.from(watched(), { objectMode: false });
}
