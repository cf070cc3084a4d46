import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError } from '../core/index.js';

/**
 * Checks a presented admin token; implementations compare digests in constant time. `'forbidden'`: a valid credential
 * without the `admin` permission (403 instead of 401).
 */
export type AdminTokenCheck = (token: string) => boolean | 'forbidden';

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;

/**
 * A fastify preHandler that admits only `Authorization: Bearer <admin token>`; anything else is 401 with
 * `WWW-Authenticate: Bearer` and a problem body.
 */
export function requireAdminToken(check: AdminTokenCheck) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    const verdict = match ? check(match[1] as string) : false;
    if (verdict === 'forbidden') throw new GatehouseError('ERR_ADMIN_FORBIDDEN');
    if (verdict !== true) {
      void reply.header('www-authenticate', 'Bearer realm="gatehouse-admin"');
      throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
    }
  };
}
