import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { GatehouseError, guardConnection, randomId, type Logger, type RequestStats } from '../core/index.js';
import { handshakeFailureReason, serverTlsOptions, type SessionTicketKeys } from '../crypto/index.js';
import { sendProblem } from './problem.js';
import { countRequests } from './request_metrics.js';

/** What a listener needs: its name, the shared HTTP limits, a certificate, and a readiness check. */
export interface HttpsServerOptions {
  name: string;
  http: Config['http'];
  certPem: string;
  keyPem: string;
  /**
   * The process's session ticket keys: kept across certificate swaps so that resumption survives renewal, and handed
   * to this server at each of their own rotations.
   */
  ticketKeys?: SessionTicketKeys;
  logger: Logger;
  /** `/readyz` answers 200 only while this returns true. */
  ready?: () => boolean;
  /** Mutual TLS: client certificates are requested and judged here (see {@link ClientAuthOptions}). */
  clientAuth?: ClientAuthOptions;
  /** Where every answered request is counted (see `platformRequestStats`). */
  requestStats?: RequestStats;
}

/**
 * Client-certificate authentication. Node over TLS 1.3 rejects a bad client chain silently with
 * `rejectUnauthorized: true` (openssl/openssl#8500), so the listener requests a certificate without rejecting and
 * `check` judges every connection that presented one (`socket.authorized`, `authorizationError`, the SVID rules):
 * a refusal closes the connection with a warn log line carrying the reason. Connections without a certificate are
 * accepted; routes that need one refuse the request themselves.
 */
export interface ClientAuthOptions {
  /** PEM trust anchors client certificates must chain to (the trust bundle). */
  ca: string;
  /** Returns fields explaining a refusal (must include `reason`), or undefined to accept. */
  check(socket: TLSSocket): ({ reason: string } & Record<string, unknown>) | undefined;
}

/** A fastify instance on a TLS 1.3-only node:https server, plus the hooks every listener shares. */
export interface HttpsServer {
  app: FastifyInstance;
  /** Swaps the certificate for new connections; existing ones keep theirs. */
  setCertificate(certPem: string, keyPem: string): void;
  /** Swaps the client-certificate trust anchors (after a bundle change); needs `clientAuth`. */
  setClientCa(caPem: string): void;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** The longest route parameter (one path segment) the router matches; longer ones are 400 ERR_HTTP_BAD_REQUEST. */
const MAX_PARAM_LENGTH = 512;

/**
 * The one way gatehouse builds an HTTPS listener: TLS 1.3 only with the three AEAD suites, HSTS on every response,
 * slow-client timeouts (headers, whole request, keep-alive, checked about every second), bounded bodies and headers,
 * `/healthz` and `/readyz`, and errors as application/problem+json.
 *
 * @example
 * const server = createHttpsServer({ name: 'admin', http: config.http, certPem, keyPem, logger });
 * server.app.get('/v1/status', async () => ({ ok: true }));
 * const { port } = await server.listen('127.0.0.1', 0);
 */
export function createHttpsServer(options: HttpsServerOptions): HttpsServer {
  const { http, logger } = options;
  const ticketKeys = options.ticketKeys;
  let clientCa = options.clientAuth?.ca;
  let current = { certPem: options.certPem, keyPem: options.keyPem };
  const tls = (certPem: string, keyPem: string) => {
    const base = serverTlsOptions({
      cert: certPem,
      key: keyPem,
      ...(ticketKeys ? { ticketKeys: ticketKeys.bytes } : {}),
    });
    return clientCa === undefined ? base : { ...base, ca: clientCa, requestCert: true, rejectUnauthorized: false };
  };
  let httpsServer: Server | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: http.bodyLimit,
    genReqId: () => randomId(9),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Route parameters up to 512 characters (fastify's default, 100, is below the 128-character KMS key names), and
    // the router's own refusals (a path segment too long, a malformed percent-escape) as problem documents with our
    // codes instead of fastify's bare JSON.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, request, reply) => sendProblem(reply, request, err, logger),
    serverFactory: (handler) => {
      httpsServer = createServer(
        {
          ...tls(options.certPem, options.keyPem),
          headersTimeout: http.headersTimeout,
          requestTimeout: http.requestTimeout,
          keepAliveTimeout: http.keepAliveTimeout,
          connectionsCheckingInterval: http.connectionsCheckingInterval,
          maxHeaderSize: http.maxHeaderSize,
        },
        handler,
      );
      httpsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        const fields = {
          listener: options.name,
          code: err.code,
          why: handshakeFailureReason(err.code),
          reason: err.message.trim(),
          remote: socket.remoteAddress,
        };
        if (options.clientAuth) logger.warn(fields, 'TLS handshake refused');
        else logger.debug(fields, 'TLS handshake refused');
      });
      if (ticketKeys) {
        const detach = ticketKeys.attach(httpsServer);
        httpsServer.once('close', detach);
      }
      const clientAuth = options.clientAuth;
      if (clientAuth) {
        httpsServer.on(
          'secureConnection',
          guardConnection(logger, { listener: options.name }, (socket: TLSSocket) => {
            if (!socket.getPeerX509Certificate()) return;
            const refusal = clientAuth.check(socket);
            if (refusal) {
              logger.warn(
                { listener: options.name, remote: socket.remoteAddress, ...refusal },
                'client certificate refused',
              );
              socket.destroy();
            }
          }),
        );
      }
      return httpsServer;
    },
  });
  if (options.requestStats) countRequests(app, options.name, options.requestStats);
  const hsts = `max-age=${Math.floor(http.hstsMaxAge / 1000)}; includeSubDomains`;
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('strict-transport-security', hsts);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
    return payload;
  });
  app.setErrorHandler((err, request, reply) => sendProblem(reply, request, err, logger));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, request, new GatehouseError('ERR_HTTP_NOT_FOUND'), logger),
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = options.ready ? options.ready() : true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });

  return {
    app,
    setCertificate(certPem, keyPem) {
      if (!httpsServer) throw new GatehouseError('ERR_INTERNAL', { detail: 'server not created yet' });
      current = { certPem, keyPem };
      httpsServer.setSecureContext(tls(certPem, keyPem));
    },
    setClientCa(caPem) {
      if (!httpsServer || clientCa === undefined)
        throw new GatehouseError('ERR_INTERNAL', { detail: 'no client auth' });
      clientCa = caPem;
      httpsServer.setSecureContext(tls(current.certPem, current.keyPem));
    },
    async listen(host, port) {
      try {
        await app.listen({ host, port });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new GatehouseError('ERR_PORT_IN_USE', {
            message: `${options.name} listener cannot bind ${host}:${port}: ${code === 'EADDRINUSE' ? 'address already in use' : code}`,
          });
        }
        throw err;
      }
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new GatehouseError('ERR_INTERNAL');
      return { host, port: address.port };
    },
    async close() {
      await app.close();
    },
  };
}
