import type { IncomingMessage, ServerResponse } from 'node:http';
import { peerCertificateThumbprint } from '../certificate_binding.js';
import type { Principal } from '../principal.js';
import { requireScopes, type Requirement } from '../requirements.js';
import type { Verifier } from '../verifier.js';
import { sendChallenge } from './respond.js';

/** A node:http handler that runs only for verified, authorized requests. */
export type AuthorizedHandler = (req: IncomingMessage, res: ServerResponse, principal: Principal) => unknown;

/**
 * Wraps a plain node:http handler: the request's credential is verified and `requirement` enforced before `handler`
 * runs; failures are answered per RFC 6750. A handler that throws gets a 500 (the error is not shown). On a TLS
 * socket the client certificate is the one certificate-bound tokens (RFC 8705) must match.
 *
 * @example
 * http.createServer(nodeHttpVerifier(verifier, { anyOf: ['orders:read'] }, (req, res, principal) => res.end(principal.sub)));
 */
export function nodeHttpVerifier(
  verifier: Verifier,
  requirement: Requirement,
  handler: AuthorizedHandler,
): (req: IncomingMessage, res: ServerResponse) => void {
  const check = requireScopes(requirement);
  return (req, res) => {
    verifier
      .verifyRequest(req.headers, { certificateThumbprint: () => peerCertificateThumbprint(req.socket) })
      .then(
        async (principal) => {
          try {
            check(principal);
          } catch (err) {
            sendChallenge(res, err, verifier.realm);
            return;
          }
          await handler(req, res, principal);
        },
        (err: unknown) => sendChallenge(res, err, verifier.realm),
      )
      .catch((err: unknown) => sendChallenge(res, err, verifier.realm));
  };
}
