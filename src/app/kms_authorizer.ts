import { GatehouseError } from '../core/index.js';
import type { KmsAuthorizer } from '../http/index.js';

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;

/**
 * The KMS authorizer of this release: `Authorization: Bearer <admin token>` is principal `admin` with every
 * permission; anything else is refused (ERR_KMS_UNAUTHORIZED). Access tokens and API keys with per-key scopes will
 * be added here, in front of the admin token, by the identity capability.
 *
 * @example
 * const authorizer = adminTokenKmsAuthorizer((token) => adminToken.check(token));
 * await authorizer.authorize(request.headers, 'kms:encrypt:orders'); // { principal: 'admin' }
 */
export function adminTokenKmsAuthorizer(check: (token: string) => boolean): KmsAuthorizer {
  return {
    async authorize(headers, permission) {
      const header = headers.authorization;
      const match = typeof header === 'string' ? BEARER.exec(header) : null;
      if (!match || !check(match[1] as string)) throw new GatehouseError('ERR_KMS_UNAUTHORIZED');
      if (!permission.startsWith('kms:')) throw new GatehouseError('ERR_KMS_FORBIDDEN');
      return { principal: 'admin' };
    },
  };
}
