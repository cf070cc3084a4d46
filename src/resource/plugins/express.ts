import type { IncomingHttpHeaders } from 'node:http';
import { peerCertificateThumbprint } from '../certificate_binding.js';
import type { Principal } from '../principal.js';
import { requireScopes, type Requirement } from '../requirements.js';
import type { Verifier } from '../verifier.js';
import { sendChallenge, type ResponseLike } from './respond.js';

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
 * certificate-bound token (RFC 8705) must come on a TLS connection with that client certificate.
 *
 * @example
 * app.get('/orders', expressVerifier(verifier, { allOf: ['orders:read'] }), (req, res) => res.json(list(req.principal)));
 */
export function expressVerifier(verifier: Verifier, requirement: Requirement = {}): ExpressMiddleware {
  const check = requireScopes(requirement);
  return (req, res, next) => {
    verifier.verifyRequest(req.headers, { certificateThumbprint: () => peerCertificateThumbprint(req.socket) }).then(
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
    );
  };
}
