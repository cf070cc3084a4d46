import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { bindServer, type Logger } from '../core/index.js';
import { refuseTunnel } from './http_forwarding.js';
import { Http2Sessions, sortByPreface } from './http2_sessions.js';

/** What {@link AppListener} serves. */
export interface AppListenerOptions {
  /** Every request, HTTP/1.1 or HTTP/2 (with an HTTP/1.1-shaped view). */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** HTTP/1.1 requests with `Connection: upgrade` (node's `upgrade` event), their socket no longer read as HTTP. */
  onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Accept HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 on the same port. */
  http2: boolean;
  logger: Logger;
}

/**
 * The port where the local app calls the sidecar (plain HTTP on loopback): node's HTTP/1.1 server, and with `http2` a
 * front that reads each connection's first bytes and hands it to that server or to an HTTP/2 one (h2c, as gRPC
 * clients speak without TLS). CONNECT is refused with 501.
 *
 * @example
 * const listener = new AppListener({ onRequest, onUpgrade, http2: true, logger });
 * await listener.listen('127.0.0.1', 15101);
 */
export class AppListener {
  private readonly server: Server;
  /** With `http2`: the listening front that sorts HTTP/1.1 from h2c, and the HTTP/2 side. */
  private readonly front: NetServer | undefined;
  private readonly http2: Http2Sessions | undefined;
  /** Connections accepted by the front. */
  private readonly sorted = new Set<Socket>();

  constructor(options: AppListenerOptions) {
    this.server = createServer(options.onRequest);
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connect', (_req: IncomingMessage, socket: Socket) => refuseTunnel(socket));
    // Requests with `Connection: upgrade` (WebSocket handshakes) arrive here, never on 'request'.
    this.server.on('upgrade', options.onUpgrade);
    if (!options.http2) return;
    const http2 = new Http2Sessions({
      handler: options.onRequest,
      maxConcurrentStreams: 100,
      idleTimeoutMs: 60_000,
      requestTimeoutMs: 300_000, // node:http's default, as the HTTP/1.1 side of this port keeps
      logger: options.logger,
      listener: 'sidecar-outbound',
    });
    this.http2 = http2;
    // The HTTP/1.1 server never listens itself: node starts its connection tracking (closeIdleConnections,
    // closeAllConnections, the headers and request timeouts) on 'listening', so it is told it listens.
    this.server.emit('listening');
    this.front = createNetServer({ pauseOnConnect: true }, (socket) => {
      this.sorted.add(socket);
      socket.once('close', () => this.sorted.delete(socket));
      socket.on('error', () => socket.destroy());
      sortByPreface(
        socket,
        (s) => this.server.emit('connection', s),
        (s) => http2.accept(s),
      );
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return bindServer(this.front ?? this.server, host, port);
  }

  /** Stops accepting, gives the requests in flight `graceMs` to finish (idle connections close at once), then ends all. */
  async close(graceMs: number): Promise<void> {
    const listening = this.front ?? this.server;
    const done = new Promise<void>((resolve) => (listening.listening ? listening.close(() => resolve()) : resolve()));
    this.http2?.close();
    this.server.closeIdleConnections();
    // A kept-alive connection whose request finishes meanwhile is closed as soon as it is idle.
    const idle = setInterval(() => this.server.closeIdleConnections(), 100);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    clearInterval(idle);
    this.server.closeAllConnections();
    this.http2?.destroy();
    for (const socket of this.sorted) socket.destroy();
    if (this.front) this.server.close(); // stops the connection checks started for it
    await done;
  }
}
