import type { FastifyReply, FastifyRequest } from 'fastify';
import { isGatehouseError } from '../core/index.js';
import { checkKeyName } from '../kms/index.js';
import type { KmsAudit, KmsAuditEntry } from './kms_audit.js';
import type { KmsAuthorizer } from './kms_port.js';

/** What a route reports back for the audit line besides principal, operation and result. */
export type AuditFields = Omit<KmsAuditEntry, 'principal' | 'client' | 'operation' | 'result'> & { result?: string };

/**
 * The key name of a `:name` route parameter, checked (ERR_KMS_KEY_NAME_INVALID).
 *
 * @example
 * const name = keyNameOf(request); // 'orders' for POST /v1/transit/encrypt/orders
 */
export function keyNameOf(request: FastifyRequest): string {
  const name = (request.params as { name?: unknown }).name;
  checkKeyName(name as string);
  return name as string;
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
