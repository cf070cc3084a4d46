import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError } from '../core/index.js';

/**
 * Who made an admin API call: what the bearer check admitted, handed explicitly to the operation the route runs so
 * that its audit line names the caller (no async context: see {@link adminCall}).
 */
export interface AdminCall {
  /**
   * `admin-token` for the admin token; for another credential admitted with the `admin` permission, its principal as
   * the authorizer's `authorization.granted` line names it (`api_key:<key id>`, `client:<client_id>`).
   */
  readonly actor: string;
}

/** The actor of a call made with the admin token itself. */
export const ADMIN_TOKEN_ACTOR = 'admin-token';

/** The one {@link AdminCall} of the admin token (checks return it rather than making one per request). */
export const ADMIN_TOKEN_CALL: AdminCall = Object.freeze({ actor: ADMIN_TOKEN_ACTOR });

/**
 * Checks a presented admin credential; implementations compare digests in constant time. An {@link AdminCall}: admitted,
 * as that actor. `'forbidden'`: a valid credential without the `admin` permission (403 instead of 401). `false`: no
 * valid credential (401).
 */
export type AdminTokenCheck = (token: string) => AdminCall | false | 'forbidden';

/**
 * The check for routes that take the admin token alone: `isAdminToken` says whether the token is it.
 *
 * @example
 * registerCaAdminRoutes(admin.app, adminTokenOnly((token) => adminToken.check(token)), caOperations);
 */
export function adminTokenOnly(isAdminToken: (token: string) => boolean): AdminTokenCheck {
  return (token) => (isAdminToken(token) ? ADMIN_TOKEN_CALL : false);
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;

/** The call {@link requireAdminToken} admitted for each request, read by the route through {@link adminCall}. */
const admitted = new WeakMap<FastifyRequest, AdminCall>();

/**
 * A fastify hook that admits only `Authorization: Bearer <credential>` that `check` admits; anything else is 401 with
 * `WWW-Authenticate: Bearer` and a problem body (403 for `'forbidden'`). The admitted call is kept for the request
 * ({@link adminCall}).
 */
export function requireAdminToken(check: AdminTokenCheck) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    const verdict = match ? check(match[1] as string) : false;
    if (verdict === 'forbidden') throw new GatehouseError('ERR_ADMIN_FORBIDDEN');
    if (verdict === false) {
      void reply.header('www-authenticate', 'Bearer realm="gatehouse-admin"');
      throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
    }
    admitted.set(request, verdict);
  };
}

/**
 * The call {@link requireAdminToken} admitted for `request`, to pass to the operation the route runs. A route whose
 * scope lacks that hook gets ERR_INTERNAL rather than an audit line naming nobody (or the wrong caller).
 *
 * @example
 * scope.post('/v1/kms/keys/:name/rotate', async (request) => ops.keys.rotateKey(adminCall(request), name));
 */
export function adminCall(request: FastifyRequest): AdminCall {
  const call = admitted.get(request);
  if (call === undefined) throw new GatehouseError('ERR_INTERNAL', { detail: 'admin route without its bearer check' });
  return call;
}
