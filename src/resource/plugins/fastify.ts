import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { peerCertificateThumbprint } from '../certificate_binding.js';
import { bearerChallenge } from '../challenge.js';
import type { Principal } from '../principal.js';
import { requireScopes, type Requirement } from '../requirements.js';
import type { Verifier } from '../verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller (set by the verifier's preHandler), or null on routes without authorization. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Route-level authorization: verify the credential and require these scopes/roles. */
    auth?: Requirement;
  }
}

/** The fastify plugin and its preHandler factory. */
export interface FastifyVerifierPlugin {
  (app: FastifyInstance): Promise<void>;
  /** A preHandler that verifies the request and enforces `requirement`. */
  authorize(requirement?: Requirement): preHandlerAsyncHookHandler;
}

/**
 * A fastify plugin: decorates `request.principal`, enforces `config: { auth: {...} }` on routes that declare it, and
 * offers `authorize({ allOf, anyOf, roles })` as a preHandler factory. Failures answer per RFC 6750. A
 * certificate-bound token (RFC 8705) must come on a TLS connection with that client certificate.
 *
 * @example
 * const auth = fastifyVerifier(verifier);
 * await app.register(auth);
 * app.get('/orders', { preHandler: auth.authorize({ allOf: ['orders:read'] }) }, (req) => list(req.principal));
 * app.get('/admin', { config: { auth: { roles: ['admin'] } } }, handler);
 */
export function fastifyVerifier(verifier: Verifier): FastifyVerifierPlugin {
  const guard = async (requirement: Requirement, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      const principal = await verifier.verifyRequest(request.headers, {
        certificateThumbprint: () => peerCertificateThumbprint(request.raw.socket),
      });
      requireScopes(requirement)(principal);
      request.principal = principal;
    } catch (err) {
      const { status, headers, body } = bearerChallenge(err, verifier.realm);
      await reply.code(status).headers(headers).send(body);
    }
  };
  const plugin = async (app: FastifyInstance): Promise<void> => {
    if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', null);
    app.addHook('preHandler', async (request, reply) => {
      const requirement = request.routeOptions.config.auth;
      if (requirement !== undefined) await guard(requirement, request, reply);
    });
  };
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  const authorize = (requirement: Requirement = {}): preHandlerAsyncHookHandler =>
    async function authorizePreHandler(request, reply) {
      await guard(requirement, request, reply);
    };
  return Object.assign(plugin, { authorize });
}
