import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  constants as h2,
  createServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/index.js';
import { http1Headers } from './http2_fields.js';
import { isGrpc, sendProblem } from './http_forwarding.js';
import { bodyDeadline, bodyInactivity } from './http2_request_deadline.js';

/**
 * Connection-specific fields, which HTTP/2 forbids in a response (RFC 9113 §8.2.2) and node throws on; answers made
 * for HTTP/1.1 (or relayed from an HTTP/1.1 hop) may carry one.
 */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'te',
]);

/** The first bytes of HTTP/2's connection preface (RFC 9113 §3.4, `PRI * HTTP/2.0…`), which no HTTP/1.1 method has. */
const PREFACE_START = Buffer.from('PRI');

/** Time a new plain connection has for its first bytes (node:http's default headersTimeout is 60 s; 10 s here). */
const SORT_TIMEOUT_MS = 10_000;

/** What {@link Http2Sessions} needs. */
export interface Http2SessionsOptions {
  /** Receives every request, with an HTTP/1.1-shaped header view (see {@link asHttp1Exchange}). */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** A connection with no open stream for this long is closed (GOAWAY). */
  idleTimeoutMs: number;
  /**
   * A request's body not whole by then gets 408 (or its stream reset once the answer started), as node:http's
   * `requestTimeout` does on HTTP/1.1; a gRPC call's, whose body may last the call, only after that long without a frame.
   */
  requestTimeoutMs: number;
  logger: Logger;
  /** Where log lines come from (`sidecar-inbound`, `sidecar-outbound`). */
  listener: string;
}

/**
 * HTTP/2 connections handed over by a listener that accepted them (ALPN `h2` on the mTLS listener, the h2c preface on
 * the outbound one): a node:http2 server that never listens itself serves their streams through the same handler as
 * HTTP/1.1 requests, each with an HTTP/1.1-shaped view. node's own defences stay on (rapid reset, settings and ping
 * floods, header-pair count, session memory).
 *
 * @example
 * const sessions = new Http2Sessions({ handler, maxConcurrentStreams: 100, idleTimeoutMs: 60_000, requestTimeoutMs: 60_000, logger, listener });
 * tlsServer.on('secureConnection', (s) => (s.alpnProtocol === 'h2' ? sessions.accept(s) : http1(s)));
 */
export class Http2Sessions {
  private readonly server;
  private readonly open = new Set<Http2Session>();
  /** Set while a connection is handed over: the session made for it is tagged with it. */
  private handing: { tag: unknown } | undefined;
  private readonly tags = new WeakMap<Http2Session, unknown>();
  private closing = false;

  constructor(private readonly options: Http2SessionsOptions) {
    this.server = createServer(
      { settings: { maxConcurrentStreams: options.maxConcurrentStreams, enablePush: false } },
      (req, res) => {
        if (!asHttp1Exchange(req, res)) return;
        if (!req.stream.endAfterHeaders) {
          const bound = isGrpc(req as unknown as IncomingMessage) ? bodyInactivity : bodyDeadline;
          bound(req, res, options.requestTimeoutMs, refuseLate);
        }
        options.handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
      },
    );
    // CONNECT (a tunnel; RFC 8441's extended CONNECT is not offered): node answers a bare 405 without a listener.
    this.server.on('connect', (_req: Http2ServerRequest, res: Http2ServerResponse) =>
      sendProblem(res as unknown as ServerResponse, 'ERR_MESH_UPGRADE_UNSUPPORTED', { detail: 'CONNECT over HTTP/2' }),
    );
    this.server.on('session', (session: Http2Session) => {
      this.open.add(session);
      if (this.closing) session.close(); // handed over after close(): no stream starts on it
      if (this.handing !== undefined) this.tags.set(session, this.handing.tag);
      session.setTimeout(options.idleTimeoutMs, () => {
        // node's session timeout counts quiet time; a long answer in flight keeps frames moving, a silent one does not
        if (!session.closed) session.close();
      });
      session.on('error', (err: NodeJS.ErrnoException) => {
        options.logger.debug({ listener: options.listener, code: err.code }, 'HTTP/2 connection failed');
        session.destroy();
      });
      session.once('close', () => this.open.delete(session));
    });
  }

  /** Serves `socket` as an HTTP/2 connection; `tag` (the verified peer) is what {@link tagOf} returns for its requests. */
  accept(socket: Duplex, tag?: unknown): void {
    this.handing = { tag };
    try {
      this.server.emit('connection', socket);
    } finally {
      this.handing = undefined;
    }
  }

  /** The tag its connection was accepted with, for a request served here (undefined for any other request). */
  tagOf(req: IncomingMessage): unknown {
    const stream = (req as unknown as Partial<Http2ServerRequest>).stream;
    return stream === undefined ? undefined : this.tags.get(stream.session as Http2Session);
  }

  /** Open HTTP/2 connections. */
  get sessions(): number {
    return this.open.size;
  }

  /** GOAWAY on every connection: open streams finish, no new one starts. */
  close(): void {
    this.closing = true;
    for (const session of this.open) if (!session.closed) session.close();
  }

  /** Ends every connection at once (after the grace period of a shutdown). */
  destroy(): void {
    for (const session of this.open) session.destroy();
  }
}

/** The 408 of a request whose body did not come in time. */
function refuseLate(res: Http2ServerResponse, detail: string): void {
  sendProblem(res as unknown as ServerResponse, 'ERR_HTTP_REQUEST_TIMEOUT', { detail });
}

/**
 * Makes an HTTP/2 request look like an HTTP/1.1 one to a handler written for node:http ({@link http1View}). False,
 * after a 400 answer, when `Host` and `:authority` differ (RFC 9113 §8.3.1).
 */
export function asHttp1Exchange(req: Http2ServerRequest, res: Http2ServerResponse): boolean {
  const headers = http1Headers(req.headers, !req.stream.endAfterHeaders);
  if (headers === undefined) {
    sendProblem(res as unknown as ServerResponse, 'ERR_HTTP_BAD_REQUEST', { detail: 'Host differs from :authority' });
    return false;
  }
  http1View(req, res, headers);
  return true;
}

/**
 * Gives an HTTP/2 request and its response the HTTP/1.1 shape a node:http handler expects: `headers` (from
 * {@link http1Headers}), `res.destroyed` telling a reset stream (node's compatibility response has none), and
 * `res.writeHead` dropping connection-specific fields (the stream is reset instead of a `Connection: close`). An answer
 * given before the body was read whole (a refusal, an early answer) is followed by RST_STREAM NO_ERROR, which asks the
 * caller to stop sending (RFC 9113 §8.1) where HTTP/1.1 closes the connection (node's compatibility response emits
 * 'finish' only when the stream closes: the stream's own event is used). A stream reset before its body ended fails
 * the request ({@link failOnReset}), as a dropped HTTP/1.1 connection does, where node would end it as if it were whole.
 */
export function http1View(req: Http2ServerRequest, res: Http2ServerResponse, headers: IncomingHttpHeaders): void {
  const stream = req.stream;
  Object.defineProperty(req, 'headers', { value: headers, enumerable: true, configurable: true });
  Object.defineProperty(res, 'destroyed', { get: () => stream.destroyed, configurable: true });
  const writeHead = res.writeHead.bind(res) as (status: number, fields?: OutgoingHttpHeaders) => Http2ServerResponse;
  Object.defineProperty(res, 'writeHead', {
    value: (status: number, fields?: OutgoingHttpHeaders) => writeHead(status, withoutConnectionFields(fields)),
    configurable: true,
  });
  if (!stream.endAfterHeaders) {
    stream.once('finish', () => {
      if (!stream.closed && !stream.readableEnded) stream.close(h2.NGHTTP2_NO_ERROR);
    });
    failOnReset(req);
  }
}

/** The error of a request body cut by its caller: HTTP/1.1's for a connection dropped mid-body (`aborted`). */
function bodyCut(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

/**
 * Makes a request whose stream is reset (RST_STREAM, or its connection lost) before its body ended fail with an
 * `aborted` ECONNRESET error, as node:http's request does when its connection drops mid-body. node's compatibility
 * request instead emits 'aborted' and then ends as if its body were whole: a proxy piping it would send the next hop
 * a truncated body that looks complete.
 */
function failOnReset(req: Http2ServerRequest): void {
  req.once('aborted', () => {
    if (req.readableEnded) return;
    req.on('error', ignore); // as node:http's, the error reaches those who listen, and is never thrown
    req.destroy(bodyCut());
  });
}

function ignore(): void {}

/**
 * An answer's fields without the connection-specific ones (on HTTP/2 a stream is reset where HTTP/1.1 would send
 * `Connection: close`), copied only when one is there.
 */
export function withoutConnectionFields(fields: OutgoingHttpHeaders | undefined): OutgoingHttpHeaders | undefined {
  if (fields === undefined) return undefined;
  let out: OutgoingHttpHeaders | undefined;
  for (const name in fields) {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) continue;
    out ??= { ...fields };
    delete out[name];
  }
  return out ?? fields;
}

/**
 * Reads the first bytes of a plain connection (accepted paused) and hands it on: to `http2` when they begin HTTP/2's
 * connection preface (`PRI`: no HTTP/1.1 method starts so; h2c with prior knowledge, as gRPC clients speak without
 * TLS), else to `http1`. The bytes read are put back first. A connection that has not sent enough to decide within
 * 10 s is closed.
 */
export function sortByPreface(socket: Socket, http1: (s: Socket) => void, http2: (s: Socket) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  // A connection that sends nothing, or `P` and stalls, is not kept: the servers' own timeouts start only once sorted.
  const unsorted = () => socket.destroy();
  socket.setTimeout(SORT_TIMEOUT_MS, unsorted);
  const onReadable = () => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) return;
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE_START.length);
    const matches = seen.subarray(0, n).equals(PREFACE_START.subarray(0, n));
    if (matches && n < PREFACE_START.length) return; // `P` or `PR` so far: wait for more
    socket.off('readable', onReadable);
    socket.setTimeout(0);
    socket.off('timeout', unsorted); // the servers' own timeouts decide from here
    socket.unshift(seen);
    if (matches) http2(socket);
    else http1(socket);
  };
  socket.on('readable', onReadable);
  // Bytes already buffered (a listener that peeked at the first byte and put it back) raise no new 'readable'.
  if (socket.readableLength > 0) onReadable();
}
