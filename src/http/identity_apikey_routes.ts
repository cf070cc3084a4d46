import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatehouseError, parseDuration } from '../core/index.js';
import { requireAdminToken, type AdminTokenCheck } from './admin_auth.js';

/** What the API key admin routes need; app/apikey_admin.ts implements it. Results are JSON-ready (snake_case). */
export interface ApiKeyAdminOperations {
  create(request: {
    name: string;
    scopes: string[];
    owner?: string;
    audiences?: string[];
    expiresInMs?: number;
  }): Promise<unknown>;
  list(): Promise<unknown>;
  get(id: string): Promise<unknown>;
  revoke(id: string): Promise<unknown>;
  rotate(id: string, overlapMs?: number): Promise<unknown>;
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

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || 'body';
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `Invalid request: ${where}: ${issue?.message ?? ''}` });
  }
  return result.data;
}

function durationMs(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `Invalid request: ${what}` });
  return ms;
}

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
      const body = parse(createBody, request.body);
      const expiresInMs = durationMs(body.expires_in, 'expires_in');
      const created = await ops.create({
        name: body.name,
        scopes: (body.scope ?? '').split(' ').filter((s) => s !== ''),
        ...(body.owner === undefined ? {} : { owner: body.owner }),
        ...(body.audiences === undefined ? {} : { audiences: body.audiences }),
        ...(expiresInMs === undefined ? {} : { expiresInMs }),
      });
      return reply.code(201).header('cache-control', 'no-store').send(created);
    });
    scope.get('/v1/identity/api-keys', async () => ({ api_keys: await ops.list() }));
    scope.get('/v1/identity/api-keys/:id', async (request) => ops.get(parse(idParams, request.params).id));
    scope.post('/v1/identity/api-keys/:id/revoke', async (request) => ops.revoke(parse(idParams, request.params).id));
    scope.post('/v1/identity/api-keys/:id/rotate', async (request, reply) => {
      const { id } = parse(idParams, request.params);
      const overlap = durationMs(parse(rotateBody, request.body).overlap, 'overlap');
      return reply.header('cache-control', 'no-store').send(await ops.rotate(id, overlap));
    });
  });
}
