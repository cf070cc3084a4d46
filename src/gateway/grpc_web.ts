import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { GatehouseError } from '../core/index.js';

/**
 * A gRPC-Web call (gRPC's PROTOCOL-WEB.md) as a route with `grpcWeb: true` translates it: the media type it came with,
 * whether its bodies are base64 text (`application/grpc-web-text`), and the gRPC media type the upstream gets.
 */
export interface GrpcWebCall {
  text: boolean;
  /** The answer's media type: the call's own, `+proto` when it named no format (as Envoy's grpc_web filter). */
  answerType: string;
  /** `application/grpc` with the call's `+format`, sent upstream. */
  upstreamType: string;
}

const WEB = /^application\/grpc-web(-text)?(\+[a-z0-9.-]+)?\s*(;.*)?$/i;

/**
 * The gRPC-Web call a request is, from its Content-Type, or undefined.
 *
 * @example
 * grpcWebCall({ 'content-type': 'application/grpc-web-text' }); // { text: true, answerType: 'application/grpc-web-text+proto', upstreamType: 'application/grpc' }
 */
export function grpcWebCall(headers: IncomingHttpHeaders): GrpcWebCall | undefined {
  const type = headers['content-type'];
  if (type === undefined) return undefined;
  const m = WEB.exec(type);
  if (!m) return undefined;
  const text = m[1] !== undefined;
  const format = (m[2] ?? '').toLowerCase();
  return {
    text,
    answerType: `application/grpc-web${text ? '-text' : ''}${format || '+proto'}`,
    upstreamType: `application/grpc${format}`,
  };
}

/**
 * Decodes a `grpc-web-text` request body as it arrives: base64 in 4-character quanta, each message possibly padded on
 * its own (so `=` may appear mid-stream), whitespace ignored. A body whose length is not a whole number of quanta
 * or a character outside base64 fails the stream with ERR_HTTP_BAD_REQUEST (the client's fault: no breaker failure).
 */
export function base64Decoder(): Transform {
  let pending = '';
  const malformed = (why: string) =>
    new GatehouseError('ERR_HTTP_BAD_REQUEST', { detail: `grpc-web-text body ${why}` });
  const decode = (text: string, push: (b: Buffer) => void): string => {
    const usable = text.length - (text.length % 4);
    let i = 0;
    while (i < usable) {
      const pad = text.indexOf('=', i);
      // A padded quantum ends a segment: decode up to its end, then go on after it.
      const end = pad === -1 || pad >= usable ? usable : (Math.floor(pad / 4) + 1) * 4;
      const segment = text.slice(i, end);
      // node's decoder skips what is not base64: checked here, so a malformed body is refused, not half-forwarded.
      if (!BASE64.test(segment)) throw malformed('is not base64');
      push(Buffer.from(segment, 'base64'));
      i = end;
    }
    return text.slice(usable);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      try {
        pending = decode(pending + chunk.toString('latin1').replace(/\s+/g, ''), (b) => this.push(b));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      done(pending === '' ? null : malformed('is not whole base64 quanta'));
    },
  });
}

/** Base64 with padding only at its end (the segments tested are whole quanta: their length is a multiple of 4). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A gRPC-Web text call's body as the upstream gets it: the client's, base64-decoded as it arrives; an error of the
 * client's stream (a client that left, a body over the limit) carries over.
 *
 * @example
 * upstream.send({ ...forward, body: grpcWebTextBody(req) }, permit);
 */
export function grpcWebTextBody(req: Readable): Readable {
  const decoded = base64Decoder();
  req.once('error', (err: Error) => decoded.destroy(err));
  return req.pipe(decoded);
}

/** A gRPC-Web trailer frame (flag 0x80, length, then `name: value` lines), PROTOCOL-WEB.md. */
function trailerFrame(trailers: Record<string, string | string[]>): Buffer {
  let block = '';
  for (const [name, value] of Object.entries(trailers)) {
    for (const v of Array.isArray(value) ? value : [value]) block += `${name.toLowerCase()}: ${v}\r\n`;
  }
  const body = Buffer.from(block, 'latin1');
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame[0] = 0x80;
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/**
 * The answer side of a gRPC-Web call: the upstream's gRPC answer turned into gRPC-Web as it streams (the media type
 * of the call, messages as they are or as base64 text, and the trailers as a final trailer frame in the body instead
 * of HTTP trailers, which browsers cannot read). An answer that is not gRPC (an upstream's HTML error page) passes
 * through unchanged.
 *
 * @example
 * const web = new GrpcWebAnswer(call);
 * web.head(fields); res.write(web.data(chunk)); res.end(web.end(trailers));
 */
export class GrpcWebAnswer {
  private active = false;
  /** Bytes of the text encoding waiting to make a whole 3-byte group. */
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly call: GrpcWebCall) {}

  /** Rewrites the answer's fields in place: the gRPC-Web media type, no Content-Length (the body changes length). */
  head(fields: OutgoingHttpHeaders): void {
    const type = fields['content-type'];
    if (typeof type !== 'string' || !/^application\/grpc(\+|;|$)/i.test(type)) return;
    this.active = true;
    fields['content-type'] = this.call.answerType;
    delete fields['content-length'];
  }

  /** A chunk of the upstream's body as the client gets it. */
  data(chunk: Buffer): Buffer {
    if (!this.active || !this.call.text) return chunk;
    return this.encode(chunk, false);
  }

  /** What ends the body: the trailer frame (encoded for text calls), or nothing when the answer is not gRPC. */
  end(trailers: Record<string, string | string[]> | undefined): Buffer | undefined {
    if (!this.active) return undefined;
    const frame = trailerFrame(trailers ?? {});
    return this.call.text ? this.encode(frame, true) : frame;
  }

  private encode(bytes: Buffer, last: boolean): Buffer {
    const all = this.carry.length === 0 ? bytes : Buffer.concat([this.carry, bytes]);
    const whole = last ? all.length : all.length - (all.length % 3);
    this.carry = all.subarray(whole);
    return Buffer.from(all.subarray(0, whole).toString('base64'), 'latin1');
  }
}
