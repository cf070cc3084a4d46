import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkKeyName } from '../kms/index.js';
import type { KmsAudit } from './kms_audit.js';
import { guarded, keyParamOf } from './kms_call.js';
import type { KmsAuthorizer, KmsOperations } from './kms_port.js';
import { parseRequest } from './request_parse.js';

const createBody = z.strictObject({ type: z.enum(['aes256-gcm96', 'chacha20-poly1305']).optional() });
const configBody = z.strictObject({
  min_decryption_version: z.number().int().min(0).optional(),
  min_encryption_version: z.number().int().min(0).optional(),
  deletion_allowed: z.boolean().optional(),
});
const trimBody = z.strictObject({ min_available_version: z.number().int().min(1) });

/**
 * Transit key management under `/v1/transit/keys` (permission `kms:admin`): create, read, list, config, rotate,
 * soft delete, restore, trim. Answers `{ "data": ... }` like Vault.
 *
 * @example
 * registerKmsKeyRoutes(server.app, { ops, authorizer, audit });
 */
export function registerKmsKeyRoutes(
  app: FastifyInstance,
  deps: { ops: KmsOperations; authorizer: KmsAuthorizer; audit: KmsAudit },
): void {
  const { ops } = deps;
  const keyCall =
    (operation: string, run: (name: string, body: unknown) => Promise<unknown>) =>
    async (request: Parameters<typeof keyParamOf>[0], reply: Parameters<typeof guarded>[2]) => {
      const name = keyParamOf(request);
      const data = await guarded(deps, request, reply, `transit.keys.${operation}`, 'kms:admin', { key: name }, () => {
        checkKeyName(name);
        return run(name, request.body);
      });
      return { data };
    };

  app.get('/v1/transit/keys', async (request, reply) => {
    const keys = await guarded(deps, request, reply, 'transit.keys.list', 'kms:admin', {}, () => ops.keys.list());
    return { data: { keys: keys.map((k) => (k as { name: string }).name), key_info: keys } };
  });
  app.post(
    '/v1/transit/keys/:name',
    keyCall('create', (name, body) => {
      const { type } = parseRequest(createBody, body);
      return ops.keys.create(name, type === undefined ? {} : { type });
    }),
  );
  app.get(
    '/v1/transit/keys/:name',
    keyCall('read', (name) => ops.keys.get(name)),
  );
  app.post(
    '/v1/transit/keys/:name/config',
    keyCall('config', (name, body) => {
      const change = parseRequest(configBody, body);
      return ops.keys.configure(name, {
        ...(change.min_decryption_version === undefined ? {} : { minDecryptionVersion: change.min_decryption_version }),
        ...(change.min_encryption_version === undefined ? {} : { minEncryptionVersion: change.min_encryption_version }),
        ...(change.deletion_allowed === undefined ? {} : { deletionAllowed: change.deletion_allowed }),
      });
    }),
  );
  app.post(
    '/v1/transit/keys/:name/rotate',
    keyCall('rotate', (name) => ops.keys.rotate(name)),
  );
  app.delete(
    '/v1/transit/keys/:name',
    keyCall('delete', (name) => ops.keys.delete(name)),
  );
  app.post(
    '/v1/transit/keys/:name/restore',
    keyCall('restore', (name) => ops.keys.restore(name)),
  );
  app.post(
    '/v1/transit/keys/:name/trim',
    keyCall('trim', (name, body) => ops.keys.trim(name, parseRequest(trimBody, body).min_available_version)),
  );
}
