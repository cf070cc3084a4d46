import type { IncomingHttpHeaders } from 'node:http';
import { peerCertificateThumbprint } from '../certificate_binding.js';
import type { Principal } from '../principal.js';
import { requireScopes, type Requirement } from '../requirements.js';
import type { Verifier } from '../verifier.js';
import { sendChallenge, type ResponseLike } from './respond.js';

declare global {
  // Express's own request type (@types/express) is `Express.Request`; adding `principal` there lets TypeScript
  // handlers read `req.principal` after the middleware, as fastify users read `request.principal`. Harmless without
  // @types/express installed.
  // eslint-disable-next-line @typescript-eslint/no-namespace -- a global augmentation can only name the namespace
  namespace Express {
    interface Request {
      /** The verified caller, set by `expressVerifier` before the next handler runs. */
      principal?: Principal;
    }
  }
}

/** The part of an express request the middleware reads and writes. */
export interface ExpressLikeRequest {
  headers: IncomingHttpHeaders;
  /** The connection (a TLS socket carries the client certificate certificate-bound tokens must match). */
  socket?: unknown;
  principal?: Principal;
}

/** An express-compatible middleware `(req, res, next)`. */
export type ExpressMiddleware = (req: ExpressLikeRequest, res: ResponseLike, next: (err?: unknown) => void) => void;

/**
 * An express middleware (no dependency on express): verifies the request's credential, enforces `requirement`, sets
 * `req.principal` and calls `next()`; otherwise answers 400/401/403/503 per RFC 6750 with WWW-Authenticate. A
 * certificate-bound token (RFC 8705) must come on a TLS connection with that client certificate. A failure to send
 * that answer goes to `next(err)`. In TypeScript, `req.principal` is typed on express's `Request` (a global
 * `Express.Request` augmentation).
 *
 * @example
 * app.get('/orders', expressVerifier(verifier, { allOf: ['orders:read'] }), (req, res) => res.json(list(req.principal)));
 */
export function expressVerifier(verifier: Verifier, requirement: Requirement = {}): ExpressMiddleware {
  const check = requireScopes(requirement);
  return (req, res, next) => {
    verifier
      .verifyRequest(req.headers, { certificateThumbprint: () => peerCertificateThumbprint(req.socket) })
      .then(
        (principal) => {
          try {
            check(principal);
          } catch (err) {
            sendChallenge(res, err, verifier.realm);
            return;
          }
          req.principal = principal;
          next();
        },
        (err: unknown) => sendChallenge(res, err, verifier.realm),
      )
      // Answering can still fail (a closed socket, a header node refuses): express's error handling gets it, never
      // an unhandled rejection, which ends a Node 20 process.
      .catch((err: unknown) => next(err));
  };
}
