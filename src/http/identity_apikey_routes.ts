import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { adminCall, requireAdminToken, type AdminCall, type AdminTokenCheck } from './admin_auth.js';
import { parseRequest, parseDurationField } from './request_parse.js';

/**
 * What the API key admin routes need; app/apikey_admin.ts implements it. Results are JSON-ready (snake_case). The
 * operations that change something take the {@link AdminCall} first (who called, for the audit line).
 */
export interface ApiKeyAdminOperations {
  create(
    call: AdminCall,
    request: { name: string; scopes: string[]; owner?: string; audiences?: string[]; expiresInMs?: number },
  ): Promise<unknown>;
  list(): Promise<unknown>;
  get(id: string): Promise<unknown>;
  revoke(call: AdminCall, id: string): Promise<unknown>;
  rotate(call: AdminCall, id: string, overlapMs?: number): Promise<unknown>;
}

const createBody = z.strictObject({
  name: z.string().min(1).max(100),
  scope: z.string().max(13_000).optional(),
  owner: z.string().min(1).max(128).optional(),
  audiences: z.array(z.string().min(1).max(512)).max(20).optional(),
  expires_in: z.string().max(20).optional(),
});
const rotateBody = z.strictObject({ overlap: z.string().max(20).optional() });
const idParams = z.strictObject({ id: z.string().min(1).max(64) });

/**
 * The API key part of the admin API (admin listener; the admin token or the `admin` scope):
 * `POST /v1/identity/api-keys` (`{"name","scope"?,"owner"?,"audiences"?,"expires_in"?}` → 201 `{"id","key","api_key"}`,
 * the key shown once), `GET /v1/identity/api-keys[/:id]`, `POST /v1/identity/api-keys/:id/revoke`,
 * `POST /v1/identity/api-keys/:id/rotate` (`{"overlap"?}` → `{"id","key","api_key"}`).
 *
 * @example
 * registerApiKeyAdminRoutes(admin.app, checkAdmin, apiKeyAdminOperations(identity, logger));
 */
export function registerApiKeyAdminRoutes(
  app: FastifyInstance,
  checkToken: AdminTokenCheck,
  ops: ApiKeyAdminOperations,
): void {
  void app.register(async (scope) => {
    scope.addHook('preHandler', requireAdminToken(checkToken));
    scope.post('/v1/identity/api-keys', async (request, reply) => {
      const body = parseRequest(createBody, request.body);
      const expiresInMs = parseDurationField(body.expires_in, 'expires_in');
      const created = await ops.create(adminCall(request), {
        name: body.name,
        scopes: (body.scope ?? '').split(' ').filter((s) => s !== ''),
        ...(body.owner === undefined ? {} : { owner: body.owner }),
        ...(body.audiences === undefined ? {} : { audiences: body.audiences }),
        ...(expiresInMs === undefined ? {} : { expiresInMs }),
      });
      return reply.code(201).header('cache-control', 'no-store').send(created);
    });
    scope.get('/v1/identity/api-keys', async () => ({ api_keys: await ops.list() }));
    scope.get('/v1/identity/api-keys/:id', async (request) => ops.get(parseRequest(idParams, request.params).id));
    scope.post('/v1/identity/api-keys/:id/revoke', async (request) =>
      ops.revoke(adminCall(request), parseRequest(idParams, request.params).id),
    );
    scope.post('/v1/identity/api-keys/:id/rotate', async (request, reply) => {
      const { id } = parseRequest(idParams, request.params);
      const overlap = parseDurationField(parseRequest(rotateBody, request.body).overlap, 'overlap');
      return reply.header('cache-control', 'no-store').send(await ops.rotate(adminCall(request), id, overlap));
    });
  });
}
