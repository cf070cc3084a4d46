import { connect, type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import { Http2Exchange, type OriginSession } from './http2_exchange.js';

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

  /**
   * Ends every connection now, its streams with it (their handlers hear of it), and fails later dispatches: the end of
   * a shutdown's grace period, as undici's `Pool.destroy()`.
   */
  destroy(): void {
    this.closed = true;
    this.current = undefined;
    for (const entry of this.sessions) {
      if (!entry.session.destroyed) entry.session.destroy(new errors.ClientDestroyedError());
    }
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
