import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import {
  IDENTITY_PATHS,
  type PresentedCertificate,
  type TokenHttpRequest,
  type TokenHttpResponse,
} from '../identity/index.js';
import { oauthFormScope } from './oauth_form_scope.js';

/** One of the identity protocol endpoints (token, introspection, revocation, device authorization). */
export interface ProtocolEndpoint {
  handle(request: TokenHttpRequest): Promise<TokenHttpResponse>;
}

/** What the identity issuer's mTLS listener serves; app/identity_mtls_listener.ts builds it. */
export interface IdentityMtlsRoutesOptions {
  token: ProtocolEndpoint;
  introspection: ProtocolEndpoint;
  revocation: ProtocolEndpoint;
  /** RFC 8628 device authorization, when the device_code grant is registered. */
  deviceAuthorization?: ProtocolEndpoint;
  /**
   * The verified client certificate of a connection, or undefined when it presented none (or it no longer passes the
   * listener's checks, e.g. expired or revoked since the handshake).
   */
  clientCertificate: (socket: TLSSocket) => PresentedCertificate | undefined;
  maxBodyBytes: number;
}

/**
 * The routes of the identity issuer's mTLS listener (RFC 8705 `mtls_endpoint_aliases`): the token, introspection,
 * revocation and device authorization endpoints only (no HTML page, so browsers are never asked for a certificate).
 * Each request carries its connection's client certificate to the endpoint, which authenticates tls_client_auth
 * clients with it and binds the access tokens it issues. Form bodies are read raw and bounded by `maxBodyBytes`;
 * framework-level failures are answered as OAuth `invalid_request`, never a 500.
 *
 * @example
 * registerIdentityMtlsRoutes(server.app, { token, introspection, revocation, clientCertificate, maxBodyBytes: 8192 });
 */
export function registerIdentityMtlsRoutes(app: FastifyInstance, options: IdentityMtlsRoutesOptions): void {
  const routes: Array<[string, ProtocolEndpoint]> = [
    [IDENTITY_PATHS.token, options.token],
    [IDENTITY_PATHS.introspection, options.introspection],
    [IDENTITY_PATHS.revocation, options.revocation],
  ];
  if (options.deviceAuthorization) routes.push([IDENTITY_PATHS.deviceAuthorization, options.deviceAuthorization]);
  void app.register(async (scope) => {
    oauthFormScope(scope, options.maxBodyBytes);
    for (const [path, endpoint] of routes) {
      scope.post(path, async (request, reply) => {
        const certificate = options.clientCertificate(request.raw.socket as TLSSocket);
        const response = await endpoint.handle({
          contentType: request.headers['content-type'],
          body: typeof request.body === 'string' ? request.body : '',
          authorization: request.headers.authorization,
          address: request.socket.remoteAddress ?? 'unknown',
          ...(certificate === undefined ? {} : { certificate }),
        });
        return reply.code(response.status).headers(response.headers).send(response.body);
      });
    }
  });
}
