import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type Http2Stream,
} from 'node:http2';
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { GatehouseError, randomId, type Logger } from '../core/index.js';
import { bodyDeadline, bodyInactivity, http1Headers, http1View } from '../mesh/index.js';
import { grpcAnswerType, sendProblem } from './problem_response.js';
import type { SlowClientGuard } from './slow_clients.js';

/** What {@link serveHttp2} needs. */
export interface Http2FrontOptions {
  /** The gateway's request handler (the same as HTTP/1.1's). */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  maxConcurrentStreams: number;
  /** `http.maxHeaderSize`: the largest header block (SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderSize: number;
  /** `http.headersTimeout`: a new connection with no stream for this long is closed (GOAWAY). */
  headersTimeout: number;
  /** `http.keepAliveTimeout`: a connection whose streams have all ended, idle this long, is closed (GOAWAY). */
  keepAliveTimeout: number;
  /** `http.requestTimeout`: a stream whose request body has not arrived whole by then gets 408 and is reset. */
  requestTimeout: number;
  guard: SlowClientGuard;
  logger: Logger;
}

/** The HTTP/2 side of a gateway listener. */
export interface Http2Front {
  /** Open HTTP/2 connections. */
  readonly sessions: number;
  /** Sends GOAWAY on every connection: open streams finish, no new one starts (shutdown). */
  close(): void;
}

/**
 * HTTP/2 beside HTTP/1.1 on the gateway's node:https listener (`gateway.http2.enabled`). The listener offers ALPN `h2`
 * first; a connection that picks it is handed to a node:http2 server that never listens itself, every other one to
 * node's HTTP/1.1 connection handling exactly as without HTTP/2 (same timeouts, same parser, same slow-client
 * tracking). Requests of both run through the same gateway handler: an HTTP/2 request is given an HTTP/1.1-shaped
 * header view first (no pseudo-header fields; `Host` from `:authority`, RFC 9113 §8.3.1).
 *
 * Bounds of an HTTP/2 connection: `maxConcurrentStreams` streams, a header block of `maxHeaderSize` bytes, GOAWAY
 * after `headersTimeout` without a first stream and `keepAliveTimeout` idle; each stream must deliver its whole
 * request within `requestTimeout` (else 408 and RST_STREAM), and a response that waits `slowClients.sendTimeout` for
 * a client that reads none of it is reset (through `guard`). node's own defences stay on (rapid reset, settings and
 * ping floods, header-pair count, session memory).
 *
 * @example
 * const server = https.createServer({ ...tls, ALPNProtocols: ['h2', 'http/1.1'] }, handler);
 * const front = serveHttp2(server, { handler, maxConcurrentStreams: 100, ... });
 */
export function serveHttp2(server: Server, o: Http2FrontOptions): Http2Front {
  // node:https registers its HTTP/1.1 connection handling as the first 'secureConnection' listener at construction.
  const http1 = server.listeners('secureConnection')[0] as ((socket: TLSSocket) => void) | undefined;
  if (http1?.name !== 'connectionListener') throw new Error('serveHttp2: no node:http connection listener found');
  server.removeListener('secureConnection', http1);
  const h2 = createServer(
    {
      settings: {
        maxConcurrentStreams: o.maxConcurrentStreams,
        maxHeaderListSize: o.maxHeaderSize,
        enablePush: false,
      },
    },
    (req, res) => onRequest(req, res, o),
  );
  // Without a listener node answers CONNECT with a bare 405; extended CONNECT (RFC 8441) is not offered, so this is
  // a plain tunnel request, refused as on HTTP/1.1.
  h2.on('connect', (_req: Http2ServerRequest, res: Http2ServerResponse) =>
    answer(res, new GatehouseError('ERR_GATEWAY_UPGRADE_UNSUPPORTED', { detail: 'CONNECT over HTTP/2' })),
  );
  const sessions = new Set<Http2Session>();
  h2.on('session', (session: Http2Session) => {
    sessions.add(session);
    const socket = session.socket as TLSSocket;
    o.guard.http2Session(socket);
    const idle = new SessionIdle(session, o);
    session.on('stream', (stream: Http2Stream) => {
      o.guard.http2Stream(socket, stream);
      idle.opened(stream);
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      o.logger.debug({ listener: 'gateway', code: err.code }, 'HTTP/2 connection failed');
      session.destroy();
    });
    session.once('close', () => {
      idle.stop();
      sessions.delete(session);
    });
  });
  // Connections with no ALPN or `http/1.1` keep node's HTTP/1.1 handling. Added after the slow-client guard's own
  // listener, which has tracked the connection by then.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
    else http1.call(server, socket);
  });
  return {
    get sessions() {
      return sessions.size;
    },
    close: () => {
      for (const session of sessions) if (!session.closed) session.close();
    },
  };
}

/** GOAWAY for a connection with no open stream: after `headersTimeout` before its first, `keepAliveTimeout` after. */
class SessionIdle {
  private open = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: Http2Session,
    private readonly o: Pick<Http2FrontOptions, 'headersTimeout' | 'keepAliveTimeout'>,
  ) {
    this.arm(o.headersTimeout);
  }

  opened(stream: Http2Stream): void {
    this.open += 1;
    clearTimeout(this.timer);
    stream.once('close', () => {
      this.open -= 1;
      if (this.open === 0) this.arm(this.o.keepAliveTimeout);
    });
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.session.closed) this.session.close();
    }, ms);
    this.timer.unref();
  }
}

function onRequest(req: Http2ServerRequest, res: Http2ServerResponse, o: Http2FrontOptions): void {
  const stream = req.stream;
  const headers = http1Headers(req.headers, !stream.endAfterHeaders);
  if (headers === undefined) {
    answer(res, new GatehouseError('ERR_HTTP_BAD_REQUEST', { detail: 'Host differs from :authority' }));
    return;
  }
  http1View(req, res, headers); // HTTP/1.1's shape; an early answer resets the stream (mesh's http2_sessions.ts)
  if (!stream.endAfterHeaders) {
    // A gRPC call's body is a stream of messages that may last as long as the call (client-streaming, bidirectional):
    // it gets `requestTimeout` of inactivity (no frame either way) rather than `requestTimeout` in all.
    // The route decides in the end: one whose upstream is no gRPC service holds the call to the whole deadline
    // (enforceRequestDeadline), so a gRPC media type cannot stretch a slow body on other routes.
    if (grpcAnswerType(headers) === undefined) bodyDeadline(req, res, o.requestTimeout, refuseLate);
    else {
      bodyInactivity(req, res, o.requestTimeout, refuseLate);
      inactivityOnly.set(req, () => bodyDeadline(req, res, o.requestTimeout, refuseLate));
    }
  }
  o.handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
}

/** gRPC calls bounded by inactivity only so far, and how to hold one to the whole request deadline instead. */
const inactivityOnly = new WeakMap<object, () => void>();

/**
 * Holds an HTTP/2 gRPC call that turned out not to be one (its route's upstream does not speak gRPC) to the whole
 * `http.requestTimeout`, counted from now, like any request with a body; nothing for other requests.
 *
 * @example
 * if (!ctx.route.upstream.http2) enforceRequestDeadline(ctx.req);
 */
export function enforceRequestDeadline(req: IncomingMessage): void {
  const arm = inactivityOnly.get(req);
  if (arm === undefined) return;
  inactivityOnly.delete(req);
  arm();
}

/** The 408 of a body that did not come in time (a gRPC refusal for a gRPC call). */
function refuseLate(res: Http2ServerResponse, detail: string): void {
  answer(res, new GatehouseError('ERR_HTTP_REQUEST_TIMEOUT', { detail }));
}

/**
 * A problem answer made before the gateway's pipeline runs (no route, a request id of its own; no
 * Strict-Transport-Security, like the listener's own answers to HTTP/1.1 requests it cannot parse).
 */
function answer(res: Http2ServerResponse, err: GatehouseError): void {
  sendProblem(
    {
      req: res.req as unknown as IncomingMessage,
      res: res as unknown as ServerResponse,
      requestId: randomId(),
      hsts: undefined,
    },
    err,
  );
}
