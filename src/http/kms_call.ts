import type { FastifyReply, FastifyRequest } from 'fastify';
import { isGatehouseError } from '../core/index.js';
import type { KmsAudit, KmsAuditEntry } from './kms_audit.js';
import type { KmsAuthorizer } from './kms_port.js';

/** What a route reports back for the audit line besides principal, operation and result. */
export type AuditFields = Omit<KmsAuditEntry, 'principal' | 'client' | 'operation' | 'result'> & { result?: string };

/**
 * The `:name` route parameter as sent (not yet checked), for the permission and the audit line. Check it with
 * `checkKeyName` inside {@link guarded}'s `run`, after authorization: an anonymous caller then gets 401 whatever
 * the name, and a bad name (ERR_KMS_KEY_NAME_INVALID) is audited like any other failure.
 *
 * @example
 * const name = keyParamOf(request); // 'orders' for POST /v1/transit/encrypt/orders
 * return guarded(deps, request, reply, 'transit.encrypt', `kms:encrypt:${name}`, { key: name }, async () => {
 *   checkKeyName(name);
 *   ...
 * });
 */
export function keyParamOf(request: FastifyRequest): string {
  const name = (request.params as { name?: unknown }).name;
  return typeof name === 'string' ? name : '';
}

/**
 * Runs one KMS call: authorizes it (401 with `WWW-Authenticate: Bearer` without credentials, 403 without the
 * permission), runs it, and writes exactly one audit line whether it succeeded or failed. `fields` collects what
 * the call learned (key versions, batch size) for that line.
 *
 * @example
 * return guarded({ authorizer, audit }, request, reply, 'transit.rotate', `kms:admin`, { key: name }, async () => ...);
 */
export async function guarded<T>(
  deps: { authorizer: KmsAuthorizer; audit: KmsAudit },
  request: FastifyRequest,
  reply: FastifyReply,
  operation: string,
  permission: string,
  fields: AuditFields,
  run: (principal: string) => Promise<T>,
): Promise<T> {
  let principal = 'anonymous';
  let client: string | undefined;
  try {
    ({ principal, client } = await deps.authorizer.authorize(request.headers, permission, request.raw.socket));
    const value = await run(principal);
    deps.audit({ principal, client, operation, ...fields, result: fields.result ?? 'ok' });
    return value;
  } catch (err) {
    if (isGatehouseError(err, 'ERR_KMS_UNAUTHORIZED')) {
      void reply.header('www-authenticate', 'Bearer realm="gatehouse-kms"');
    }
    const result = isGatehouseError(err) ? err.code : 'ERR_INTERNAL';
    deps.audit({ principal, client, operation, ...fields, result });
    throw err;
  }
}
