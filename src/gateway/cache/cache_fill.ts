import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import type { Upstream } from '../upstream.js';
import { upstreamFailure } from '../upstream_failure.js';

/** A response read whole from the upstream (bounded). */
export interface FetchedResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** The body went over the bound and was not kept. */
  tooLarge: boolean;
}

/** A Writable that stands in for the client response so the proxy stage's code path fills the cache. */
class CaptureResponse extends Writable {
  status = 0;
  headers: Record<string, string | string[]> = {};
  headersSent = false;
  tooLarge = false;
  /** The upstream failed after its headers (connection lost, body timeout): what was captured is truncated. */
  failure: Error | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {
    super();
  }

  writeHead(status: number, headers: OutgoingHttpHeaders): this {
    this.status = status;
    for (const [k, v] of Object.entries(headers)) {
      if (v !== undefined) this.headers[k] = Array.isArray(v) ? v.map(String) : String(v);
    }
    this.headersSent = true;
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    this.size += chunk.length;
    if (this.size <= this.limit) {
      this.chunks.push(chunk);
      return done();
    }
    // Over the bound: stop reading. Closing this stand-in aborts the upstream request the way a client that leaves
    // does (neither a success nor a failure for the breaker), so the object is not downloaded whole for nothing.
    this.tooLarge = true;
    this.chunks.length = 0;
    done();
    this.destroy();
  }

  /**
   * `Upstream.send` destroys a response that already started with the upstream's error. A real client response just
   * closes; this stand-in records the error instead of emitting an 'error' event that nobody listens to (which would
   * end the process), so the fill is reported as failed and its partial body is never answered or stored.
   */
  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (err) this.failure = err;
    done();
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Sends one GET for the cache through the upstream (breaker, bulkhead, pools) and reads the answer whole, keeping at
 * most `limit` bytes of body: past that it stops reading and reports `tooLarge` (the caller then streams the object
 * to the client itself, with a second upstream request).
 *
 * @example
 * const r = await fetchForCache(route.upstream, '/a?b=1', headers, requestId, 1 << 20);
 */
export async function fetchForCache(
  upstream: Upstream,
  url: string,
  headers: Record<string, string>,
  requestId: string,
  limit: number,
): Promise<FetchedResponse> {
  const capture = new CaptureResponse(limit);
  const req = { url, method: 'GET', headers: {} } as unknown as IncomingMessage;
  const permit = await upstream.admit();
  await upstream.send(
    {
      req,
      path: url,
      res: capture as unknown as Parameters<Upstream['send']>[0]['res'],
      headers,
      requestId,
      responseHeaders: undefined,
      hsts: undefined, // the cache stage adds the one of each answer: a stored entry keeps none
    },
    permit,
  );
  if (capture.failure) throw upstreamFailure(upstream.name, capture.failure);
  return { status: capture.status, headers: capture.headers, body: capture.body, tooLarge: capture.tooLarge };
}
