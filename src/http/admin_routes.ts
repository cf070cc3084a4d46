import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { adminCall, requireAdminToken, type AdminCall, type AdminTokenCheck } from './admin_auth.js';
import { parseRequest } from './request_parse.js';

/**
 * What the admin API needs from the platform; `app/compose.ts` supplies it. Every operation that changes something
 * takes the {@link AdminCall} first: who called, for its audit line.
 */
export interface AdminOperations {
  checkToken: AdminTokenCheck;
  status(): Promise<unknown>;
  rotateAdminToken(call: AdminCall): Promise<{ rotated: true; file: string }>;
  keys: {
    createKey(
      call: AdminCall,
      name: string,
      options: { type?: 'aes256-gcm96' | 'chacha20-poly1305' },
    ): Promise<unknown>;
    listKeys(): Promise<unknown>;
    getKey(name: string): Promise<unknown>;
    configureKey(
      call: AdminCall,
      name: string,
      options: { minDecryptionVersion?: number; minEncryptionVersion?: number; deletionAllowed?: boolean },
    ): Promise<unknown>;
    rotateKey(call: AdminCall, name: string): Promise<unknown>;
    deleteKey(call: AdminCall, name: string): Promise<unknown>;
    restoreKey(call: AdminCall, name: string): Promise<unknown>;
    trimKey(call: AdminCall, name: string, minAvailableVersion: number): Promise<unknown>;
  };
  rotateRootKey(call: AdminCall): Promise<unknown>;
  caStatus(): Promise<unknown>;
  /** Renews every listener certificate now (tests and operators rotate without waiting for 2/3 of the lifetime). */
  renewListenerCertificates(call: AdminCall): Promise<unknown>;
  /** The security posture audit of `gatehouse doctor` (docs/operations.md, "gatehouse doctor"). */
  doctor(): Promise<unknown>;
  /** Drops gateway response-cache entries (all, one route's, those under a path prefix): `{ purged: n }`. */
  purgeGatewayCache(call: AdminCall, filter: { route?: string; pathPrefix?: string }): Promise<unknown>;
}

const createKeyBody = z.strictObject({
  name: z.string().min(1).max(128),
  type: z.enum(['aes256-gcm96', 'chacha20-poly1305']).optional(),
});
const configBody = z.strictObject({
  min_decryption_version: z.number().int().min(0).optional(),
  min_encryption_version: z.number().int().min(0).optional(),
  deletion_allowed: z.boolean().optional(),
});
const trimBody = z.strictObject({ min_available_version: z.number().int().min(1) });
const purgeBody = z.strictObject({
  route: z.string().min(1).max(128).optional(),
  path_prefix: z.string().startsWith('/').max(8192).optional(),
});
const nameParams = z.strictObject({ name: z.string().min(1).max(128) });

/**
 * The admin API (its own TLS 1.3 listener on 127.0.0.1). Every route needs a credential `ops.checkToken` admits; the
 * admitted {@link AdminCall} goes to each operation that changes something.
 *
 * @example
 * registerAdminRoutes(server.app, operations);
 */
export function registerAdminRoutes(app: FastifyInstance, ops: AdminOperations): void {
  void app.register(async (scope) => {
    scope.addHook('preHandler', requireAdminToken(ops.checkToken));
    scope.get('/v1/status', async () => ops.status());
    scope.post('/v1/admin/rotate-token', async (request) => ops.rotateAdminToken(adminCall(request)));
    scope.get('/v1/ca/status', async () => ops.caStatus());
    scope.post('/v1/tls/renew', async (request) => ops.renewListenerCertificates(adminCall(request)));
    scope.get('/v1/doctor', async () => ops.doctor());
    scope.post('/v1/gateway/cache/purge', async (request) => {
      const body = parseRequest(purgeBody, request.body ?? {});
      return ops.purgeGatewayCache(adminCall(request), {
        ...(body.route === undefined ? {} : { route: body.route }),
        ...(body.path_prefix === undefined ? {} : { pathPrefix: body.path_prefix }),
      });
    });

    scope.post('/v1/kms/keys', async (request, reply) => {
      const body = parseRequest(createKeyBody, request.body);
      const key = await ops.keys.createKey(adminCall(request), body.name, body.type ? { type: body.type } : {});
      return reply.code(201).send(key);
    });
    scope.get('/v1/kms/keys', async () => ({ keys: await ops.keys.listKeys() }));
    scope.get('/v1/kms/keys/:name', async (request) => ops.keys.getKey(parseRequest(nameParams, request.params).name));
    scope.post('/v1/kms/keys/:name/config', async (request) => {
      const { name } = parseRequest(nameParams, request.params);
      const body = parseRequest(configBody, request.body);
      return ops.keys.configureKey(adminCall(request), name, {
        ...(body.min_decryption_version === undefined ? {} : { minDecryptionVersion: body.min_decryption_version }),
        ...(body.min_encryption_version === undefined ? {} : { minEncryptionVersion: body.min_encryption_version }),
        ...(body.deletion_allowed === undefined ? {} : { deletionAllowed: body.deletion_allowed }),
      });
    });
    scope.post('/v1/kms/keys/:name/rotate', async (request) =>
      ops.keys.rotateKey(adminCall(request), parseRequest(nameParams, request.params).name),
    );
    scope.delete('/v1/kms/keys/:name', async (request) =>
      ops.keys.deleteKey(adminCall(request), parseRequest(nameParams, request.params).name),
    );
    scope.post('/v1/kms/keys/:name/restore', async (request) =>
      ops.keys.restoreKey(adminCall(request), parseRequest(nameParams, request.params).name),
    );
    scope.post('/v1/kms/keys/:name/trim', async (request) => {
      const { name } = parseRequest(nameParams, request.params);
      return ops.keys.trimKey(adminCall(request), name, parseRequest(trimBody, request.body).min_available_version);
    });
    scope.post('/v1/kms/root/rotate', async (request) => ops.rotateRootKey(adminCall(request)));
  });
}
