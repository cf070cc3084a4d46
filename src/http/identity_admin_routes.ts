import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatehouseError } from '../core/index.js';
import { parseDurationField } from './request_parse.js';
import { adminCall, requireAdminToken, type AdminCall, type AdminTokenCheck } from './admin_auth.js';

/** A client registration as the admin API receives it (snake_case JSON). */
export interface ClientCreateBody {
  name: string;
  grant_types: string[];
  scope?: string;
  redirect_uris?: string[];
  public?: boolean;
  audiences?: string[];
  auth_method?: string;
  jwks?: { keys: Array<Record<string, unknown>> };
  access_token_ttl?: string;
  legacy_implicit?: boolean;
  tls_client_auth_san_uri?: string;
  roles?: string[];
  allowed_origins?: string[];
  id_token_signed_response_alg?: string;
  post_logout_redirect_uris?: string[];
  spiffe_ids?: string[];
}

/**
 * What the identity admin routes need; app/identity_admin.ts implements it. Results are JSON-ready (snake_case). The
 * operations that change something take the {@link AdminCall} first (who called, for the audit line).
 */
export interface IdentityAdminOperations {
  createApi(call: AdminCall, audience: string, scopes: Array<{ name: string; description: string }>): Promise<unknown>;
  listApis(): Promise<unknown>;
  getApi(audience: string): Promise<unknown>;
  deleteApi(call: AdminCall, audience: string): Promise<unknown>;
  createClient(call: AdminCall, body: ClientCreateBody & { accessTokenTtlMs?: number }): Promise<unknown>;
  listClients(): Promise<unknown>;
  getClient(clientId: string): Promise<unknown>;
  rotateClientSecret(call: AdminCall, clientId: string, overlapMs?: number): Promise<unknown>;
  deleteClient(call: AdminCall, clientId: string): Promise<unknown>;
  rotateSigningKeys(call: AdminCall): Promise<unknown>;
  listSigningKeys(): Promise<unknown>;
}

const apiBody = z.strictObject({
  audience: z.string().min(1).max(512),
  scopes: z
    .array(z.strictObject({ name: z.string().min(1).max(128), description: z.string().min(1).max(200) }))
    .max(200)
    .default([]),
});
const clientBody = z.strictObject({
  name: z.string().min(1).max(100),
  grant_types: z.array(z.string().max(100)).min(1).max(10),
  scope: z.string().max(4000).optional(),
  redirect_uris: z.array(z.string().max(2000)).max(20).optional(),
  public: z.boolean().optional(),
  audiences: z.array(z.string().max(512)).max(20).optional(),
  auth_method: z.string().max(40).optional(),
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).max(10) }).optional(),
  access_token_ttl: z.string().max(20).optional(),
  legacy_implicit: z.boolean().optional(),
  tls_client_auth_san_uri: z.string().max(2000).optional(),
  roles: z.array(z.string().min(1).max(100)).max(50).optional(),
  allowed_origins: z.array(z.string().max(512)).max(10).optional(),
  id_token_signed_response_alg: z.string().max(10).optional(),
  post_logout_redirect_uris: z.array(z.string().max(2000)).max(20).optional(),
  spiffe_ids: z.array(z.string().max(2048)).max(20).optional(),
});
const rotateBody = z.strictObject({ overlap: z.string().max(20).optional() });
const idParams = z.strictObject({ id: z.string().min(1).max(128) });
const audienceParams = z.strictObject({ audience: z.string().min(1).max(512) });

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || 'body';
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `Invalid request: ${where}: ${issue?.message ?? ''}` });
  }
  return result.data;
}

/**
 * The identity part of the admin API (on the admin listener, admin token required): APIs, clients and signing keys.
 *
 * @example
 * registerIdentityAdminRoutes(admin.app, adminToken.check, identityAdmin);
 */
export function registerIdentityAdminRoutes(
  app: FastifyInstance,
  checkToken: AdminTokenCheck,
  ops: IdentityAdminOperations,
): void {
  void app.register(async (scope) => {
    scope.addHook('preHandler', requireAdminToken(checkToken));
    scope.post('/v1/identity/apis', async (request, reply) => {
      const body = parse(apiBody, request.body);
      return reply.code(201).send(await ops.createApi(adminCall(request), body.audience, body.scopes));
    });
    scope.get('/v1/identity/apis', async () => ({ apis: await ops.listApis() }));
    scope.get('/v1/identity/apis/:audience', async (request) =>
      ops.getApi(parse(audienceParams, request.params).audience),
    );
    scope.delete('/v1/identity/apis/:audience', async (request) =>
      ops.deleteApi(adminCall(request), parse(audienceParams, request.params).audience),
    );
    scope.post('/v1/identity/clients', async (request, reply) => {
      const body = parse(clientBody, request.body);
      const ttl = parseDurationField(body.access_token_ttl, 'access_token_ttl');
      return reply.code(201).send(
        await ops.createClient(adminCall(request), {
          ...body,
          ...(ttl === undefined ? {} : { accessTokenTtlMs: ttl }),
        }),
      );
    });
    scope.get('/v1/identity/clients', async () => ({ clients: await ops.listClients() }));
    scope.get('/v1/identity/clients/:id', async (request) => ops.getClient(parse(idParams, request.params).id));
    scope.post('/v1/identity/clients/:id/rotate-secret', async (request) => {
      const { id } = parse(idParams, request.params);
      return ops.rotateClientSecret(
        adminCall(request),
        id,
        parseDurationField(parse(rotateBody, request.body).overlap, 'overlap'),
      );
    });
    scope.delete('/v1/identity/clients/:id', async (request) =>
      ops.deleteClient(adminCall(request), parse(idParams, request.params).id),
    );
    scope.post('/v1/identity/signing-keys/rotate', async (request) => ops.rotateSigningKeys(adminCall(request)));
    scope.get('/v1/identity/signing-keys', async () => ({ keys: await ops.listSigningKeys() }));
  });
}
