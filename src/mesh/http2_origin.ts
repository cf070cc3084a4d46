import type { IncomingHttpHeaders } from 'node:http';
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders as Http2Headers,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { Readable, type Duplex } from 'node:stream';
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

/** Tuning of an {@link Http2Origin}. */
export interface Http2OriginOptions {
  /** Time to open the connection (TCP and the HTTP/2 preface) before the requests waiting on it fail as timed out. */
  connectTimeout: number;
  /** A connection with no open stream and no traffic for this long is closed (a new one is opened on demand). */
  idleTimeout: number;
  /**
   * https:// origins: the trust anchors (PEM) the server's certificate must chain to, instead of node's default store
   * (its bundled Mozilla roots, or the system's with --use-openssl-ca, plus NODE_EXTRA_CA_CERTS). The gateway leaves
   * it unset.
   */
  ca?: string;
  /**
   * Opens each connection instead of node (an https:// origin): returns the socket, and calls back once it is ready
   * or with the error that ended it (a refused peer certificate). The sidecar's mTLS connector, offering ALPN `h2`.
   */
  connect?: (done: (err: Error | null) => void) => Duplex | undefined;
  /** `:authority` from the request's `Host` when it has one (the sidecar's service name), not the origin's host. */
  authorityFromHost?: boolean;
}

/** One connection and its open streams (the idle timer closes it only when none are open). */
interface OriginSession {
  session: ClientHttp2Session;
  open: number;
  /** The last stream id of a GOAWAY the server sent (streams above it were not processed). */
  goawayLast?: number;
  /** (Re)arms the idle timer (node's fires once per quiet period: re-armed each time the last stream closes). */
  idle?: () => void;
}

/**
 * One HTTP/2 origin behind the gateway's dispatch interface: h2c for an http:// origin (HTTP/2 with prior knowledge,
 * RFC 9113 §3.3), TLS with ALPN `h2` for an https:// one (the server's certificate verified against node's default
 * trust store, or `ca`, and its name). One
 * multiplexed connection, opened on demand and replaced once it closes or the server sends GOAWAY (streams already
 * on it finish there), requests as streams on it (node queues those past the server's SETTINGS_MAX_CONCURRENT_STREAMS).
 * It speaks undici's `DispatchHandler` so that {@link Upstream} drives it as it drives a `Pool`: the same
 * {@link ProxyExchange}, breaker, bulkhead and outlier accounting, and undici's own error classes for timeouts
 * (`UND_ERR_*_TIMEOUT`: a 504) and refused requests (`UND_ERR_INVALID_ARG`: no breaker failure). Why not undici's
 * HTTP/2 client: undici 7.30 hands `{}` to `onResponseEnd` instead of the trailers (measured against a bare node:http2
 * server), and gRPC's status lives in them.
 *
 * @example
 * const origin = new Http2Origin('http://10.1.0.20:50051', { connectTimeout: 10_000, idleTimeout: 60_000 });
 * origin.dispatch({ path: '/pkg.Svc/Call', method: 'POST', headers, body: req }, new ProxyExchange(res, fields, done));
 */
export class Http2Origin {
  private readonly authority: string;
  private readonly scheme: 'http' | 'https';
  private current: OriginSession | undefined;
  private readonly sessions = new Set<OriginSession>();
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly options: Http2OriginOptions,
  ) {
    const url = new URL(origin);
    this.authority = url.host;
    this.scheme = url.protocol === 'https:' ? 'https' : 'http';
  }

  /** Starts one exchange; its handler hears of every outcome (false: the origin is closed, the handler was told). */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const exchange = new Http2Exchange(handler, opts);
    if (this.closed) {
      exchange.fail(new errors.ClientClosedError());
      return false;
    }
    if (opts.upgrade) {
      exchange.fail(new errors.NotSupportedError('HTTP/2 upstreams carry no HTTP/1.1 upgrades'));
      return true;
    }
    let entry: OriginSession;
    try {
      entry = this.session();
    } catch (err) {
      exchange.fail(err as Error); // no connection could be opened (the sidecar holds no SVID)
      return true;
    }
    entry.open += 1;
    const host = this.options.authorityFromHost ? hostField(opts.headers) : undefined;
    exchange.start(entry, this.scheme, host ?? this.authority, () => {
      entry.open -= 1;
      if (entry.open === 0) entry.idle?.();
    });
    return true;
  }

  /** Streams open on its connections (requests in flight). */
  get openStreams(): number {
    let n = 0;
    for (const entry of this.sessions) n += entry.open;
    return n;
  }

  /**
   * Later requests go to a new connection; the current one finishes its streams and closes (the sidecar's certificate
   * rotated: new connections present the new one).
   */
  retire(): void {
    const live = this.current;
    this.current = undefined;
    if (live && !live.session.closed) live.session.close();
  }

  /** Closes every connection once its streams finish; later dispatches fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.current = undefined;
    await Promise.all([...this.sessions].map((entry) => closeWhenDone(entry)));
  }

  private session(): OriginSession {
    const live = this.current;
    if (live && !live.session.closed && !live.session.destroyed) return live;
    for (const dead of this.sessions) if (dead.session.destroyed && dead.open === 0) this.sessions.delete(dead);
    const session = this.open();
    const entry: OriginSession = { session, open: 0 };
    this.current = entry;
    this.sessions.add(entry);
    const retire = () => {
      if (this.current === entry) this.current = undefined;
    };
    const timer = setTimeout(
      () => session.destroy(new errors.ConnectTimeoutError(`HTTP/2 connect to ${this.origin} timed out`)),
      this.options.connectTimeout,
    );
    // Connected means the server spoke HTTP/2 (its SETTINGS arrived), not only that TCP (and TLS) connected: a port
    // where something else listens must time out as a connect, not hold every call until its body timeout.
    session.once('remoteSettings', () => clearTimeout(timer));
    // node offers ALPN h2 but does not insist: a TLS server that picked nothing (or http/1.1) is refused here, with a
    // reason, rather than spoken to in a protocol it did not agree to.
    session.once('connect', () => {
      if (this.scheme === 'https' && session.alpnProtocol !== 'h2') {
        session.destroy(
          new errors.SocketError(
            `${this.origin} did not negotiate HTTP/2 over TLS (ALPN ${session.alpnProtocol || 'none'})`,
          ),
        );
      }
    });
    // Each stream reports the error that ended it; the connection's own error only retires it.
    session.on('error', retire);
    session.on('goaway', (_code: number, lastStreamID: number) => {
      entry.goawayLast = lastStreamID;
      retire();
    });
    session.once('close', () => {
      clearTimeout(timer);
      retire();
      this.sessions.delete(entry);
    });
    // One listener for the connection's life; `idle` only re-arms the timer (a callback per call would add one).
    session.on('timeout', () => {
      if (entry.open === 0) {
        retire();
        session.close();
      }
    });
    entry.idle = () => session.setTimeout(this.options.idleTimeout);
    entry.idle();
    return entry;
  }

  /** A new connection: node's, or one from `options.connect` (whose failure ends the session with its error). */
  private open(): ClientHttp2Session {
    const settings = { enablePush: false };
    const make = this.options.connect;
    if (make === undefined) {
      return connect(this.origin, {
        settings,
        ...(this.scheme === 'https' && this.options.ca ? { ca: this.options.ca } : {}),
      });
    }
    const opened: { session?: ClientHttp2Session; early?: Error } = {};
    const socket = make((err) => {
      if (err === null) return;
      if (opened.session === undefined) opened.early = err;
      else if (!opened.session.destroyed) opened.session.destroy(err);
    });
    if (socket === undefined) throw opened.early ?? new errors.SocketError(`no connection to ${this.origin}`);
    opened.session = connect(this.origin, { settings, createConnection: () => socket });
    return opened.session;
  }
}

/** How often a closing connection is looked at (see {@link closeWhenDone}). */
const CLOSE_CHECK_MS = 1_000;

/**
 * Closes a connection gracefully (GOAWAY, its streams finish) and resolves once the session is done. node emits no
 * `close` for a session the server ended with GOAWAY but whose socket the server keeps open (node 20: the session
 * reads as destroyed; its socket, which node does not let us touch, stays half-closed until the server closes it): a
 * check every second resolves once the session is destroyed, or destroys it once it has had no open stream for a
 * whole period.
 */
function closeWhenDone(entry: OriginSession): Promise<void> {
  const { session } = entry;
  return new Promise<void>((resolve) => {
    if (session.destroyed) return resolve();
    let idleChecks = 0;
    const check = setInterval(() => {
      idleChecks = entry.open === 0 ? idleChecks + 1 : 0;
      if (idleChecks >= 2 && !session.destroyed) session.destroy();
      if (session.destroyed) done();
    }, CLOSE_CHECK_MS);
    const done = () => {
      clearInterval(check);
      resolve();
    };
    session.once('close', done);
    session.close();
  });
}

/** The `Host` of request fields given as an object, if one is there. */
function hostField(headers: Dispatcher.DispatchOptions['headers']): string | undefined {
  if (headers === null || headers === undefined || Array.isArray(headers) || typeof headers !== 'object')
    return undefined;
  const host = (headers as Record<string, unknown>).host;
  return typeof host === 'string' && host !== '' ? host : undefined;
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
class Http2Exchange implements Dispatcher.DispatchController {
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
      if (!this.finished) this.guarded(() => this.handler.onResponseData?.(this, chunk));
    });
    stream.once('trailers', (fields: Http2Headers) => {
      this.trailers = withoutPseudo(fields);
    });
    stream.once('end', () => {
      if (this.finished) return;
      this.finished = true;
      this.clearTimers();
      if (!stream.writableFinished) {
        // The answer is complete before the request body went out (an early gRPC status, a refusal): the exchange
        // is over, so the rest of the body is not sent and the stream is closed (else it would hold an upstream
        // stream slot, and its connection, until the client's body ended).
        this.body?.unpipe();
        stream.close(NGHTTP2_NO_ERROR);
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
    const stream = this.stream;
    if (stream && !stream.closed) stream.close(NGHTTP2_CANCEL);
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
