import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { GatehouseError } from '../core/index.js';
import type { RequestContext } from './pipeline.js';

/** True when a request body arrives without a Content-Length (chunked): only its bytes can tell its size. */
export function hasUndeclaredBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
}

/**
 * The `limits` stage, `http.bodyLimit` (`limit`; undefined: none): a declared Content-Length at once, a chunked body
 * as its bytes arrive (413 ERR_HTTP_PAYLOAD_TOO_LARGE either way).
 *
 * @example
 * const runs = { limits: (ctx: RequestContext) => limitBodySize(ctx, options.bodyLimit), ... };
 */
export function limitBodySize(ctx: RequestContext, limit: number | undefined): void {
  if (limit === undefined) return;
  const length = ctx.req.headers['content-length'];
  if (length !== undefined && Number(length) > limit) throw new GatehouseError('ERR_HTTP_PAYLOAD_TOO_LARGE');
  if (hasUndeclaredBody(ctx.req)) ctx.req = boundedBody(ctx.req, limit);
}

/**
 * `http.bodyLimit` for a body without Content-Length: a stand-in for the request that passes its chunks on and fails
 * with ERR_HTTP_PAYLOAD_TOO_LARGE (413) at the first byte over `max`, for whoever reads it (the WAF's body check or
 * the proxy). A declared Content-Length is checked before any byte is read; this closes the chunked way around it.
 *
 * @example
 * if (hasUndeclaredBody(ctx.req)) ctx.req = boundedBody(ctx.req, config.http.bodyLimit);
 */
export function boundedBody(req: IncomingMessage, max: number): IncomingMessage {
  let seen = 0;
  const bounded = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > max) {
        done(new GatehouseError('ERR_HTTP_PAYLOAD_TOO_LARGE', { detail: `chunked body over ${max} bytes` }));
        return;
      }
      done(null, chunk);
    },
  });
  req.on('error', (err) => bounded.destroy(err));
  req.pipe(bounded);
  Object.defineProperty(bounded, 'complete', { get: () => req.complete });
  return standInFor(req, bounded);
}

/**
 * A stream that carries a request's body in the request's place: the fields the later stages and the proxy read
 * (url, method, headers, raw headers, HTTP version, socket) are the request's own.
 *
 * @example
 * ctx.req = standInFor(ctx.req, Readable.from(chunks));
 */
export function standInFor(req: IncomingMessage, body: Readable): IncomingMessage {
  return Object.assign(body, {
    url: req.url,
    method: req.method,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    httpVersion: req.httpVersion,
    socket: req.socket,
  }) as unknown as IncomingMessage;
}
