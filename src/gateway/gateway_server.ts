import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Config } from '../config/index.js';
import { bindServer, systemClock, type Clock, type Logger } from '../core/index.js';
import { serverTlsOptions, type SessionTicketKeys } from '../crypto/index.js';
import { refuseTunnel } from '../mesh/index.js';
import type { Gateway } from './gateway.js';
import { serveHttp2, type Http2Front } from './http2_front.js';
import { SlowClientGuard } from './slow_clients.js';

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n';

/**
 * What the listener answers when a request cannot be parsed or arrives too slowly (as Node's own default would):
 * 408 when `http.headersTimeout`/`requestTimeout` ran out, 431 over `http.maxHeaderSize`, else 400 (malformed,
 * smuggling forms such as Content-Length with Transfer-Encoding), always closing the connection.
 */
const CLIENT_ERROR_ANSWERS: Readonly<Record<string, string>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n',
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\r\n',
};

/** Options of {@link createGatewayServer}. */
export interface GatewayServerOptions {
  gateway: Gateway;
  http: Config['http'];
  certPem: string;
  keyPem: string;
  /** The process's session ticket keys (see `SessionTicketKeys`): the server follows their rotation. */
  ticketKeys?: SessionTicketKeys;
  logger: Logger;
  /** The `gateway.slowClients` section (required, so that a caller cannot silently fall back to built-in values). */
  slowClients: { maxConnections: number; minBodyRate: number; bodyGrace: number; sendTimeout: number };
  /** Clock of the slow-body check (default: the system clock). */
  clock?: Clock;
  /** The `gateway.http2` section (undefined: HTTP/1.1 only). */
  http2?: { enabled: boolean; maxConcurrentStreams: number };
}

/** The gateway's TLS 1.3 listener. */
export interface GatewayServer {
  server: Server;
  /** Open HTTP/2 connections (0 without `http2.enabled`). */
  readonly http2Sessions: number;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Swaps the certificate for new connections; open ones keep theirs. */
  setCertificate(certPem: string, keyPem: string): void;
  /**
   * Stops accepting, lets in-flight requests finish (idle keep-alive connections and WebSocket tunnels are closed),
   * closes upstreams.
   */
  close(): Promise<void>;
}

/**
 * A plain node:https server (TLS 1.3 only, via `serverTlsOptions`) running the gateway handler, with the shared
 * slow-client timeouts and header bound. No framework on the data path: see docs/adr/0002-gateway-data-plane.md.
 *
 * @example
 * const server = createGatewayServer({ gateway, http: config.http, slowClients: config.gateway.slowClients, certPem, keyPem, logger });
 * const { port } = await server.listen('127.0.0.1', 0);
 */
export function createGatewayServer(o: GatewayServerOptions): GatewayServer {
  const tls = (cert: string, key: string) =>
    serverTlsOptions({ cert, key, ...(o.ticketKeys ? { ticketKeys: o.ticketKeys.bytes } : {}) });
  const http2 = o.http2?.enabled === true;
  const server = createServer(
    {
      ...tls(o.certPem, o.keyPem),
      ...(http2 ? { ALPNProtocols: ['h2', 'http/1.1'] } : {}),
      headersTimeout: o.http.headersTimeout,
      requestTimeout: o.http.requestTimeout,
      keepAliveTimeout: o.http.keepAliveTimeout,
      connectionsCheckingInterval: o.http.connectionsCheckingInterval,
      maxHeaderSize: o.http.maxHeaderSize,
    },
    o.gateway.handler,
  );
  const guard = new SlowClientGuard(server, {
    ...o.slowClients,
    checkInterval: o.http.connectionsCheckingInterval,
    clock: o.clock ?? systemClock,
  });
  server.once('close', () => guard.stop());
  let front: Http2Front | undefined;
  if (http2) {
    front = serveHttp2(server, {
      handler: o.gateway.handler,
      maxConcurrentStreams: o.http2!.maxConcurrentStreams,
      maxHeaderSize: o.http.maxHeaderSize,
      headersTimeout: o.http.headersTimeout,
      keepAliveTimeout: o.http.keepAliveTimeout,
      requestTimeout: o.http.requestTimeout,
      guard,
      logger: o.logger,
    });
    o.logger.info(
      { listener: 'gateway', maxConcurrentStreams: o.http2!.maxConcurrentStreams },
      'HTTP/2 offered (ALPN h2)',
    );
  }
  o.gateway.metrics.observeConnections(() => {
    const http2Sessions = front?.sessions ?? 0;
    return { http1: Math.max(0, guard.size - http2Sessions), http2: http2Sessions };
  });
  if (o.ticketKeys) {
    const detach = o.ticketKeys.attach(server);
    server.once('close', detach);
  }
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    o.logger.debug({ listener: 'gateway', code: err.code }, 'TLS handshake refused');
  });
  // Requests with `Connection: upgrade` and `Upgrade` (WebSocket handshakes of routes with `websocket: true` become
  // tunnels; docs/gateway.md "WebSocket"): they arrive here, never on 'request', so plain requests pay nothing for them.
  server.on('upgrade', o.gateway.upgradeHandler);
  // CONNECT: Node drops the socket without a word when nobody listens; answer 501 problem+json instead.
  server.on('connect', (_req: IncomingMessage, socket: Socket) =>
    refuseTunnel(socket, 'ERR_GATEWAY_UPGRADE_UNSUPPORTED'),
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable) socket.end(CLIENT_ERROR_ANSWERS[err.code ?? ''] ?? BAD_REQUEST);
    else socket.destroy();
  });
  return {
    server,
    get http2Sessions() {
      return front?.sessions ?? 0;
    },
    listen: async (host, port) => ({ host, port: (await bindServer(server, host, port)).port }),
    setCertificate: (certPem, keyPem) => server.setSecureContext(tls(certPem, keyPem)),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        front?.close();
        o.gateway.closeTunnels();
      });
      await o.gateway.close();
    },
  };
}
