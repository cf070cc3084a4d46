import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { bindServer, guardConnection, type Logger } from '../core/index.js';
import { handshakeFailureReason, SessionTicketKeys, type TicketKeyHolder } from '../crypto/index.js';
import type { IdentitySource } from './identity_source.js';
import type { PeerChecker, PeerIdentity } from './peer_check.js';
import { refuseTunnel, sendProblem } from './http_forwarding.js';
import { Http2Sessions, sortByPreface } from './http2_sessions.js';
import { meshServerOptions, sessionLifetimeSeconds } from './tls_contexts.js';
import { upgradeResponse } from './websocket_handshake.js';

/** STRICT: mTLS only. PERMISSIVE: mTLS or plaintext on the same port (the first byte decides), as in Istio. */
export type MtlsMode = 'STRICT' | 'PERMISSIVE';

/** Counters of a listener (asserted on by tests, exported as metrics). */
export interface ListenerStats {
  /** TLS connections admitted after the peer check. */
  admitted: number;
  /** Of those, resumed sessions (`isSessionReused()`). */
  resumed: number;
  /** Connections closed by the peer check. */
  refused: number;
  /** Plaintext connections admitted in PERMISSIVE mode. */
  plaintext: number;
}

/** Options of {@link MtlsListener}. */
export interface MtlsListenerOptions {
  identity: IdentitySource;
  checker: PeerChecker;
  mode: MtlsMode;
  logger: Logger;
  /** Receives every admitted request with the verified peer (undefined for plaintext in PERMISSIVE mode). */
  handler: (req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined) => void;
  /**
   * Receives every admitted request with `Connection: upgrade` (Node's `upgrade` event), answered through a response
   * on its socket (`upgradeResponse`), after the same checks as {@link handler}'s. Unset: such requests go to `handler`
   * as plain ones.
   */
  upgradeHandler?: (req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined) => void;
  renewAtFraction?: number;
  ticketKeyRotationMs?: number;
  keepAliveTimeoutMs?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * Offer HTTP/2 (ALPN `h2`, then `http/1.1`): its streams go through the same checks and `handler` (not
   * `upgradeHandler`: HTTP/2 has no `Connection: upgrade`). The peer check is the connection's, as for HTTP/1.1.
   */
  http2?: boolean;
}

/**
 * An HTTPS listener doing mTLS with SPIFFE peer checks: requests the client certificate without letting OpenSSL
 * reject it (TLS 1.3 would do so silently), then on every `secureConnection` (resumed ones too) verifies chain, SVID
 * rules, validity, deny list, and closes refused peers with a logged reason. Certificates are swapped with
 * `setSecureContext` keeping the same ticket keys, so resumption survives rotation; the keys rotate on their own.
 *
 * @example
 * const listener = new MtlsListener({ identity, checker, mode: 'STRICT', logger, handler });
 * const address = await listener.listen('127.0.0.1', 15001);
 */
export class MtlsListener {
  readonly stats: ListenerStats = { admitted: 0, resumed: 0, refused: 0, plaintext: 0 };
  private readonly peers = new WeakMap<Socket, PeerIdentity>();
  /** Sockets accepted by the PERMISSIVE front (the inner servers never listen, so they do not track them). */
  private readonly sniffed = new Set<Socket>();
  private readonly tls: Server;
  private readonly plain: Server | undefined;
  private readonly front: ReturnType<typeof createNetServer> | undefined;
  private readonly ticketKeys = new SessionTicketKeys();
  private readonly unsubscribe: () => void;
  private readonly http2: Http2Sessions | undefined;

  constructor(private readonly options: MtlsListenerOptions) {
    const { identity, logger } = options;
    const material = identity.current;
    if (!material) throw new Error('MtlsListener needs a started IdentitySource');
    const handle = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    this.tls = createHttpsServer(
      { ...this.serverOptions(), ...(options.http2 ? { ALPNProtocols: ['h2', 'http/1.1'] } : {}) },
      handle,
    );
    this.tune(this.tls);
    // With HTTP/2, node's HTTP/1.1 connection handling (the first 'secureConnection' listener, registered by
    // node:https) runs after the peer check, for the connections that did not pick `h2`.
    const http1 = options.http2 ? this.takeHttp1Handling() : undefined;
    this.tls.on(
      'secureConnection',
      guardConnection(logger, { listener: 'mesh' }, (socket: TLSSocket) => this.onSecureConnection(socket)),
    );
    if (http1) {
      const http2 = new Http2Sessions({
        handler: handle,
        maxConcurrentStreams: 100,
        idleTimeoutMs: options.keepAliveTimeoutMs ?? 60_000,
        requestTimeoutMs: options.requestTimeoutMs ?? 60_000, // as the HTTP/1.1 server's requestTimeout below
        logger,
        listener: 'mesh',
      });
      this.http2 = http2;
      this.tls.on('secureConnection', (socket: TLSSocket) => {
        if (socket.destroyed) return; // refused by the peer check
        if (socket.alpnProtocol === 'h2') http2.accept(socket, this.peers.get(socket));
        else http1.call(this.tls, socket);
      });
    }
    // Warn, with plain words and the peer's address: a peer refused here (TLS 1.2 only, plain HTTP) never learns why.
    this.tls.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) =>
      logger.warn(
        {
          reason: 'tls_handshake_failed',
          code: err.code ?? 'unknown',
          why: handshakeFailureReason(err.code),
          remote: socket.remoteAddress,
        },
        'mTLS handshake refused',
      ),
    );
    if (options.mode === 'PERMISSIVE') {
      this.plain = createHttpServer(handle);
      this.tune(this.plain);
      this.front = createNetServer({ pauseOnConnect: true }, (socket) => this.sniff(socket));
      // Neither inner server listens itself: node starts its connection tracking (closeIdleConnections,
      // closeAllConnections, the headers and request timeouts) on 'listening', so each is told it listens.
      this.tls.emit('listening');
      this.plain.emit('listening');
    }
    this.unsubscribe = identity.onChange(() => this.refreshContext());
    // Rotation hands the new keys to the running context; later certificate swaps read the same (refilled) buffer.
    this.ticketKeys.attach(this.tls as unknown as TicketKeyHolder);
    this.ticketKeys.start(options.ticketKeyRotationMs ?? 3_600_000);
  }

  /** Binds and resolves with the address. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return bindServer(this.front ?? this.tls, host, port);
  }

  /** The verified peer of a request's connection (HTTP/1.1 or HTTP/2). */
  peerOf(req: IncomingMessage): PeerIdentity | undefined {
    return this.peers.get(req.socket) ?? (this.http2?.tagOf(req) as PeerIdentity | undefined);
  }

  /** Removes node's HTTP/1.1 connection handling from the TLS server and returns it (to run it after the check). */
  private takeHttp1Handling(): (socket: TLSSocket) => void {
    const http1 = this.tls.listeners('secureConnection')[0] as ((socket: TLSSocket) => void) | undefined;
    if (http1?.name !== 'connectionListener') throw new Error('MtlsListener: no node:http connection listener found');
    this.tls.removeListener('secureConnection', http1);
    return http1;
  }

  /** Stops accepting, closes idle connections, gives in-flight requests `graceMs` (default 2 s) to finish. */
  async close(graceMs = 2_000): Promise<void> {
    this.unsubscribe();
    this.ticketKeys.stop();
    const listening = [this.tls, this.front].filter((s) => s !== undefined && s.listening);
    const done = Promise.all(listening.map((s) => new Promise<void>((resolve) => s!.close(() => resolve()))));
    this.http2?.close();
    const http1 = [this.tls, this.plain].filter((s) => s !== undefined);
    const closeIdle = () => {
      for (const server of http1) server.closeIdleConnections();
    };
    closeIdle();
    // A kept-alive connection whose request finishes meanwhile is closed as soon as it is idle.
    const idle = setInterval(closeIdle, 100);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    clearInterval(idle);
    for (const server of http1) server.closeAllConnections();
    this.http2?.destroy();
    for (const socket of this.sniffed) socket.destroy();
    // The inner servers of PERMISSIVE were told they listen: closing them stops node's connection checks.
    if (this.front) for (const server of http1) server.close();
    await done;
  }

  private serverOptions() {
    const material = this.options.identity.current;
    if (!material) return undefined;
    const fraction = this.options.renewAtFraction ?? 2 / 3;
    return meshServerOptions(
      material,
      this.options.identity.bundle,
      this.ticketKeys.bytes,
      sessionLifetimeSeconds(material, fraction),
    );
  }

  private refreshContext(): void {
    const options = this.serverOptions();
    if (options) (this.tls as unknown as { setSecureContext(o: object): void }).setSecureContext(options);
  }

  private tune(server: Server): void {
    // CONNECT: Node drops the socket without a word when nobody listens; answer 501 problem+json instead.
    server.on('connect', (_req: IncomingMessage, socket: Socket) => refuseTunnel(socket));
    const upgradeHandler = this.options.upgradeHandler;
    if (upgradeHandler) {
      // Requests with `Connection: upgrade` (WebSocket handshakes) arrive here, never on 'request'.
      server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
        socket.on('error', () => socket.destroy()); // the server's own handler left with the upgrade
        if (head.length > 0) socket.unshift(head); // the caller's first bytes of the new protocol, for the tunnel
        this.onRequest(req, upgradeResponse(req, socket), upgradeHandler);
      });
    }
    server.keepAliveTimeout = this.options.keepAliveTimeoutMs ?? 60_000;
    server.headersTimeout = this.options.headersTimeoutMs ?? 10_000;
    server.requestTimeout = this.options.requestTimeoutMs ?? 60_000;
  }

  private sniff(socket: Socket): void {
    this.sniffed.add(socket);
    socket.once('close', () => this.sniffed.delete(socket));
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (!first) return socket.destroy();
      socket.unshift(first);
      if (first[0] === 0x16) {
        this.tls.emit('connection', socket);
      } else {
        this.stats.plaintext++;
        const http1 = (s: Socket) => this.plain?.emit('connection', s);
        const http2 = this.http2;
        // With HTTP/2 offered, a plaintext caller may speak h2c with prior knowledge (a gRPC client with insecure
        // credentials, migrating to the mesh): its streams get the plaintext rules, as its HTTP/1.1 requests do.
        if (http2) sortByPreface(socket, http1, (s) => http2.accept(s));
        else http1(socket);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.resume();
  }

  private onSecureConnection(socket: TLSSocket): void {
    const { identity, checker, logger, mode } = this.options;
    if (!identity.current) {
      this.stats.refused++;
      logger.warn({ reason: 'own_svid_expired' }, 'connection refused: this sidecar holds no valid SVID');
      socket.destroy();
      return;
    }
    const resumed = socket.isSessionReused();
    // getPeerCertificate(), not getPeerX509Certificate(): on Node 20 the latter copies (X509_dup: re-encodes and
    // re-decodes) every intermediate the client sent, about 170 us per full handshake against about 80 us, measured
    // with perf under the mesh_handshakes load. Only its DER and SHA-256 fingerprint are read ({} when there is none).
    const verdict = checker.check(socket.getPeerCertificate(), socket.authorized, socket.authorizationError);
    if (verdict.ok) {
      this.peers.set(socket, verdict.peer);
      this.stats.admitted++;
      if (resumed) this.stats.resumed++;
      return;
    }
    if (mode === 'PERMISSIVE' && verdict.reason === 'no_certificate') {
      this.stats.plaintext++;
      return;
    }
    this.stats.refused++;
    logger.warn(
      {
        reason: verdict.reason,
        spiffeId: verdict.spiffeId,
        tlsError: verdict.tlsError,
        resumed,
        remote: socket.remoteAddress,
      },
      'mTLS peer refused',
    );
    socket.destroy();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, handler = this.options.handler): void {
    if (!this.options.identity.current) {
      res.shouldKeepAlive = false;
      sendProblem(res, 'ERR_MESH_IDENTITY_UNAVAILABLE');
      return;
    }
    const peer = this.peerOf(req);
    if (peer) {
      const verdict = this.options.checker.recheck(peer);
      if (!verdict.ok) {
        this.options.logger.warn(
          { reason: verdict.reason, spiffeId: peer.spiffeId },
          'mTLS peer refused mid-connection',
        );
        res.shouldKeepAlive = false;
        sendProblem(res, 'ERR_MESH_FORBIDDEN', { detail: `peer ${verdict.reason}` });
        return;
      }
    } else if (this.options.mode === 'STRICT') {
      sendProblem(res, 'ERR_MESH_FORBIDDEN', { detail: 'mTLS required' });
      return;
    }
    handler(req, res, peer);
  }
}
