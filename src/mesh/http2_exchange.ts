import type { IncomingHttpHeaders } from 'node:http';
import {
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders as Http2Headers,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { addAbortSignal, Readable } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import { isTrailerField } from './http_forwarding.js';
import { RefusedStreamError } from './retry_policy.js';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = constants;

/**
 * Request fields HTTP/2 forbids or carries as pseudo-header fields (RFC 9113 §8.2.2, §8.3.1): node refuses to send them.
 * `te` is sent as `trailers` only, added by the exchange.
 */
const NOT_SENT = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
  'http2-settings',
]);

/** node's code for a stream that could not start: its connection was closing or had received GOAWAY. */
const NOT_SENT_GOAWAY = 'ERR_HTTP2_GOAWAY_SESSION';

/** node's codes for a field it will not send (bad name, bad value, connection-specific): the request is refused. */
const REFUSED_FIELD =
  /^ERR_(HTTP2_INVALID_HEADER_VALUE|HTTP2_INVALID_CONNECTION_HEADERS|INVALID_HTTP_TOKEN|INVALID_CHAR|HTTP2_HEADER_SINGLE_VALUE|HTTP2_INVALID_PSEUDOHEADER)$/;

/** One connection and its open streams (the idle timer closes it only when none are open). */
export interface OriginSession {
  session: ClientHttp2Session;
  open: number;
  /** The last stream id of a GOAWAY the server sent (streams above it were not processed). */
  goawayLast?: number;
  /** (Re)arms the idle timer (node's fires once per quiet period: re-armed each time the last stream closes). */
  idle?: () => void;
}

/**
 * Ends a stream: RST_STREAM `code`, or, when the server has already reset it, destroys it. node never ends by itself
 * a stream reset by the server (even with NO_ERROR, after an early answer) while request body it was given still
 * waits on flow control: no 'close' ever, so the stream would hold its connection, and the origin's close, forever.
 * A request body not yet ended is cut with RST_STREAM CANCEL alone: node's `close()` would end it first (END_STREAM,
 * then the reset), and the server would see a truncated body that looks whole.
 */
function release(stream: ClientHttp2Stream, code: number): void {
  if (stream.destroyed) return;
  if (stream.closed) stream.destroy();
  else if (!stream.writableEnded)
    addAbortSignal(AbortSignal.abort(), stream); // node resets an aborted stream with CANCEL
  else stream.close(code);
}

/** A response's fields without HTTP/2's pseudo-header fields (`:status`). */
function withoutPseudo(fields: Http2Headers): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name of Object.keys(fields)) {
    if (name.charCodeAt(0) !== 58 /* : */) out[name] = fields[name] as string | string[];
  }
  return out;
}

/** One request on an {@link Http2Origin}: a stream driven by, and reporting to, an undici dispatch handler. */
export class Http2Exchange implements Dispatcher.DispatchController {
  private stream: ClientHttp2Stream | undefined;
  private finished = false;
  private wasAborted = false;
  private wasPaused = false;
  private failure: Error | null = null;
  private headersTimer: NodeJS.Timeout | undefined;
  private trailers: IncomingHttpHeaders = {};
  private body: Readable | undefined;
  /** The response's fields arrived. */
  private answered = false;
  /** The answer's declared length (-1: none, or an answer without content: HEAD, 204, 304), and what came of it. */
  private declared = -1;
  private received = 0;
  /** The connection the stream went out on. */
  private origin: OriginSession | undefined;

  constructor(
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly opts: Dispatcher.DispatchOptions,
  ) {}

  get aborted(): boolean {
    return this.wasAborted;
  }

  get paused(): boolean {
    return this.wasPaused;
  }

  get reason(): Error | null {
    return this.failure;
  }

  abort(reason: Error): void {
    if (this.finished) return;
    this.wasAborted = true;
    this.fail(reason);
  }

  pause(): void {
    this.wasPaused = true;
    // The gateway's own client is slow, not the upstream: no body timeout while paused (as undici's).
    this.stream?.setTimeout(0);
    this.stream?.pause();
  }

  resume(): void {
    this.wasPaused = false;
    if (this.stream && !this.finished) this.armInactivity(this.stream);
    this.stream?.resume();
  }

  start(origin: OriginSession, scheme: 'http' | 'https', authority: string, closed: () => void): void {
    const { session } = origin;
    this.origin = origin;
    this.handler.onRequestStart?.(this, {});
    if (this.finished) return closed(); // aborted at once (the caller had left)
    const { opts } = this;
    let stream: ClientHttp2Stream;
    try {
      const fields = this.requestFields(scheme, authority);
      stream = session.request(fields, { endStream: opts.body === null || opts.body === undefined });
    } catch (err) {
      closed();
      const code = (err as { code?: string }).code ?? '';
      if (code === NOT_SENT_GOAWAY)
        this.fail(new RefusedStreamError()); // the connection went away first
      else
        this.fail(REFUSED_FIELD.test(code) ? new errors.InvalidArgumentError((err as Error).message) : (err as Error));
      return;
    }
    this.stream = stream;
    stream.once('close', () => {
      closed();
      if (!this.finished) {
        this.fail(
          this.refused(stream) ??
            new errors.SocketError(`upstream closed the stream (RST_STREAM code ${stream.rstCode})`),
        );
      }
    });
    // A stream cancelled because its connection failed (refused, timed out connecting) carries that as its cause:
    // the cause decides 502 or 504.
    stream.on('error', (err: Error & { code?: string; cause?: unknown }) =>
      this.fail(
        this.refused(stream, err) ??
          (err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error ? err.cause : err),
      ),
    );
    stream.once('response', (fields: Http2Headers, flags: number) => {
      this.answered = true;
      clearTimeout(this.headersTimer);
      const status = Number(fields[':status']);
      const length = fields['content-length'];
      if (typeof length === 'string' && opts.method !== 'HEAD' && status !== 204 && status !== 304) {
        this.declared = Number(length);
      }
      if (flags & NGHTTP2_FLAG_END_STREAM && fields['grpc-status'] !== undefined) {
        // A gRPC Trailers-Only answer (status and trailing metadata in the one header block): relayed as response
        // fields (Content-Type, Date, and what a trailer section may not carry: WWW-Authenticate, Set-Cookie, ...)
        // and trailers (the status and the metadata), a shape every gRPC client reads (node's compatibility response
        // cannot end a stream on its HEADERS frame, and a client that gets grpc-status in non-final headers reports
        // INTERNAL).
        const head: IncomingHttpHeaders = {};
        const trailing: IncomingHttpHeaders = {};
        for (const [name, value] of Object.entries(withoutPseudo(fields))) {
          (isTrailerField(name) && name !== 'date' ? trailing : head)[name] = value;
        }
        this.trailers = trailing;
        this.guarded(() => this.handler.onResponseStart?.(this, status, head, ''));
        return;
      }
      this.guarded(() => this.handler.onResponseStart?.(this, status, withoutPseudo(fields), ''));
    });
    stream.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (!this.finished) this.guarded(() => this.handler.onResponseData?.(this, chunk));
    });
    stream.once('trailers', (fields: Http2Headers) => {
      this.trailers = withoutPseudo(fields);
    });
    stream.once('end', () => {
      if (this.finished) return;
      if (!this.answered) {
        // Node ends the stream of an upstream that reset it (RST_STREAM NO_ERROR) without any answer: no answer to
        // relay, not an empty success.
        this.fail(
          this.refused(stream) ??
            new errors.SocketError(`upstream ended the stream without an answer (RST_STREAM code ${stream.rstCode})`),
        );
        return;
      }
      if (this.declared >= 0 && this.received !== this.declared) {
        // node ends the answer of a stream the server reset with NO_ERROR before its END_STREAM as if it were whole
        // (nghttp2 checks the length only at END_STREAM): an answer short of its Content-Length was cut.
        this.fail(
          new errors.SocketError(
            `upstream reset the stream after ${this.received} of the ${this.declared} bytes of its answer`,
          ),
        );
        return;
      }
      this.finished = true;
      this.clearTimers();
      if (!stream.writableFinished) {
        // The answer is complete before the request body went out (an early gRPC status, a refusal): the exchange
        // is over, so the rest of the body is not sent and the stream is closed (else it would hold an upstream
        // stream slot, and its connection, until the client's body ended).
        this.body?.unpipe();
        release(stream, NGHTTP2_NO_ERROR);
      }
      const trailers = this.trailers;
      this.guarded(() => this.handler.onResponseEnd?.(this, trailers), true);
    });
    stream.on('timeout', () => this.fail(new errors.BodyTimeoutError()));
    if (this.wasPaused) stream.pause();
    else this.armInactivity(stream);
    this.sendBody(stream);
  }

  /**
   * The stream was refused before any answer (RST_STREAM REFUSED_STREAM from the server, or nghttp2 closing it because
   * a GOAWAY's last stream id is below it): the server did not process it, and the request may go again.
   */
  private refused(stream: ClientHttp2Stream, err?: { code?: string }): RefusedStreamError | undefined {
    if (this.answered) return undefined;
    // Never sent: the connection was closed or went away (a retired one, a GOAWAY) before the stream could start.
    if (err?.code === NOT_SENT_GOAWAY) return new RefusedStreamError();
    if (stream.rstCode !== NGHTTP2_REFUSED_STREAM) return undefined;
    // After a GOAWAY node stamps the GOAWAY's own error code on every stream it ends: only those above its last
    // stream id are unprocessed (a GOAWAY with code REFUSED_STREAM must not make a processed request look refused).
    const last = this.origin?.goawayLast;
    return last === undefined || (stream.id ?? 0) > last ? new RefusedStreamError() : undefined;
  }

  /**
   * Inactivity either way (a stalled upload or a silent answer) ends the exchange as undici's body timeout would
   * (the 'timeout' listener is added once, in {@link start}; this only re-arms the timer).
   */
  private armInactivity(stream: ClientHttp2Stream): void {
    stream.setTimeout(this.opts.bodyTimeout ?? 300_000);
  }

  /**
   * Runs a handler call from a stream event: a throw there (an answer the handler cannot relay) would end the process,
   * so it fails the exchange instead (`ended`: the exchange was already marked finished, at the stream's end).
   */
  private guarded(call: () => void, ended = false): void {
    try {
      call();
    } catch (err) {
      if (ended) this.finished = false;
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Ends the exchange with `err` (once): the stream is cancelled, the body no longer read, the handler told. */
  fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = err;
    this.clearTimers();
    if (this.stream) release(this.stream, NGHTTP2_CANCEL);
    if (this.body) this.body.unpipe();
    this.handler.onResponseError?.(this, err);
  }

  private requestFields(scheme: 'http' | 'https', authority: string): OutgoingHttpHeaders {
    const { opts } = this;
    const fields: OutgoingHttpHeaders = {
      ':method': opts.method,
      ':scheme': scheme,
      ':authority': authority,
      ':path': opts.path,
    };
    const given = opts.headers;
    if (given !== null && given !== undefined && !Array.isArray(given) && typeof given === 'object') {
      for (const [name, value] of Object.entries(given as Record<string, string | string[] | undefined>)) {
        const lower = name.toLowerCase();
        if (value !== undefined && !NOT_SENT.has(lower)) fields[lower] = value;
      }
    } else if (given !== null && given !== undefined) {
      throw new errors.InvalidArgumentError('HTTP/2 exchanges take request fields as an object');
    }
    // The gateway relays trailers (to HTTP/2 clients, and to HTTP/1.1 ones on chunked answers): gRPC servers need it.
    fields.te = 'trailers';
    return fields;
  }

  /** Sends the request body (if any), then starts the wait for the response's fields. */
  private sendBody(stream: ClientHttp2Stream): void {
    const { body, headersTimeout } = this.opts;
    const awaitHeaders = () => {
      if (this.finished) return;
      this.headersTimer = setTimeout(() => this.fail(new errors.HeadersTimeoutError()), headersTimeout ?? 300_000);
    };
    if (body === null || body === undefined) return awaitHeaders();
    if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
      stream.end(body, awaitHeaders);
      return;
    }
    if (!(body instanceof Readable)) {
      this.fail(new errors.InvalidArgumentError('HTTP/2 exchanges take a string, a buffer or a Readable as body'));
      return;
    }
    this.body = body;
    body.once('error', (err: Error) => this.fail(err)); // a body over the limit, a client that left
    stream.once('finish', awaitHeaders); // the whole body went out
    body.pipe(stream);
  }

  private clearTimers(): void {
    clearTimeout(this.headersTimer);
    this.stream?.setTimeout(0);
  }
}
