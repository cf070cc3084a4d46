import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatehouseError, isGatehouseError } from '../core/index.js';
import { defaultBucketKey } from '../kms/index.js';
import { adminCall, requireAdminToken, type AdminTokenCheck } from './admin_auth.js';
import { parseRequest } from './request_parse.js';

/** What the object routes need (implemented in app/object_operations.ts). Results are snake_case JSON. */
export interface ObjectOperations {
  listBuckets(): Promise<unknown>;
  /** Whether a KMS key of that name exists (deleted or not); ERR_KMS_KEY_NAME_INVALID for a bad name. */
  keyExists(keyName: string): Promise<boolean>;
  /**
   * `actor` (every call that changes or reads an object): who the route admitted, for the audit line (`admin-token`,
   * `api_key:<key id>`, `client:<client_id>`, `spiffe:<SPIFFE ID>`).
   */
  put(bucket: string, key: string, body: Readable, options: { keyName?: string; actor: string }): Promise<unknown>;
  /** Plaintext of verified segments; with `verifyFirst` the whole object is authenticated before the first byte. */
  read(
    bucket: string,
    key: string,
    options: { verifyFirst: boolean; actor: string },
  ): Promise<{ size: number; plaintext: Readable }>;
  verify(bucket: string, key: string, actor: string): Promise<unknown>;
  list(bucket: string, options: { prefix?: string; limit?: number }): Promise<unknown>;
  remove(bucket: string, key: string, actor: string): Promise<unknown>;
  /** Runs (or resumes) the bucket's rewrap, calling `progress` after every object; resolves with the report. */
  rewrap(bucket: string, progress: (event: unknown) => void, actor: string): Promise<unknown>;
}

const listQuery = z.object({
  prefix: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
});
const readQuery = z.object({ verify: z.enum(['first', 'only', 'none']).optional() });
const putQuery = z.object({ key_name: z.string().min(1).max(128).optional() });

function target(request: FastifyRequest): { bucket: string; key: string } {
  const params = request.params as { bucket?: string; '*'?: string };
  return { bucket: params.bucket ?? '', key: params['*'] ?? '' };
}

function bodyStream(request: FastifyRequest): Readable {
  const body = request.body as Readable | undefined;
  if (!body || typeof body.pipe !== 'function') {
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: 'Expected an application/octet-stream body' });
  }
  return body;
}

/**
 * The encrypted object store on the admin listener (admin token): `GET /v1/objects` (buckets),
 * `PUT /v1/objects/:bucket/*` (raw body streamed in constant memory, no body limit; `?key_name=` for a new bucket,
 * which needs `kms:encrypt:<key_name>` besides `object:write:<bucket>` unless it is the default `bucket-<bucket>`),
 * `GET /v1/objects/:bucket/*` (plaintext of verified segments; `?verify=first` authenticates everything before the
 * first byte, `?verify=only` returns JSON; a failure after the headers aborts the connection),
 * `GET /v1/objects/:bucket?prefix=&limit=`, `DELETE /v1/objects/:bucket/*`, and `POST /v1/objects/:bucket/rewrap`
 * (NDJSON: progress lines, then one `report` or `error` line).
 *
 * @example
 * registerObjectRoutes(admin.app, { ops: objectOperations(core, files), checkToken });
 */
export function registerObjectRoutes(
  app: FastifyInstance,
  options: {
    ops: ObjectOperations;
    checkToken: AdminTokenCheck;
    /**
     * Per-bucket authorization (app/platform_authorizer.ts): called with `object:read:<bucket>` (GET),
     * `object:write:<bucket>` (PUT, DELETE, rewrap) or `admin` (bucket list); resolves with the actor for the audit
     * lines (`admin-token` for the admin token, else the principal), rejects with 401/403. A PUT whose
     * `key_name` is not the bucket's default key also needs `kms:encrypt:<key_name>`, or `admin` when that key does
     * not exist yet (ERR_OBJECT_KEY_FORBIDDEN otherwise). `socket` is the connection (workload certificates).
     * Without it, `checkToken` alone decides.
     */
    authorize?: (headers: FastifyRequest['headers'], permission: string, socket?: Socket) => Promise<string>;
  },
): void {
  const { ops, authorize } = options;
  /** The actor `authorize` admitted for each request; without an authorizer, the one `checkToken` admitted. */
  const actors = new WeakMap<FastifyRequest, string>();
  const actor = (request: FastifyRequest) => actors.get(request) ?? adminCall(request).actor;
  /**
   * `object:write:<bucket>` covers the bucket's own key only: choosing another key encrypts with it (and binds a new
   * bucket to it for good), so it needs `kms:encrypt:<key>`; a key that does not exist yet would be created, which
   * needs `admin`. Keys are never removed, so one that exists now still exists when the store looks it up.
   */
  const authorizeKeyChoice = async (request: FastifyRequest, bucket: string, keyName: string): Promise<void> => {
    if (authorize === undefined || keyName === defaultBucketKey(bucket)) return;
    const permission = (await ops.keyExists(keyName)) ? `kms:encrypt:${keyName}` : 'admin';
    try {
      await authorize(request.headers, permission, request.raw.socket);
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_ADMIN_FORBIDDEN')) throw err;
      throw new GatehouseError('ERR_OBJECT_KEY_FORBIDDEN', { detail: `bucket ${bucket}, key ${keyName}` });
    }
  };
  void app.register(async (scope) => {
    if (authorize === undefined) scope.addHook('onRequest', requireAdminToken(options.checkToken));
    else {
      scope.addHook('onRequest', async (request, reply) => {
        const { bucket } = target(request);
        const write = request.method !== 'GET' && request.method !== 'HEAD';
        const permission = bucket === '' ? 'admin' : `object:${write ? 'write' : 'read'}:${bucket}`;
        try {
          actors.set(request, await authorize(request.headers, permission, request.raw.socket));
        } catch (err) {
          if ((err as { status?: number }).status === 401) {
            void reply.header('www-authenticate', 'Bearer realm="gatehouse-admin"');
          }
          throw err;
        }
      });
    }
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

    scope.get('/v1/objects', async () => ({ buckets: await ops.listBuckets() }));
    scope.get('/v1/objects/:bucket', async (request) => {
      const query = parseRequest(listQuery, request.query, 'query');
      return {
        objects: await ops.list(target(request).bucket, {
          ...(query.prefix === undefined ? {} : { prefix: query.prefix }),
          ...(query.limit === undefined ? {} : { limit: query.limit }),
        }),
      };
    });
    scope.put('/v1/objects/:bucket/*', async (request, reply) => {
      const { bucket, key } = target(request);
      const query = parseRequest(putQuery, request.query, 'query');
      if (query.key_name !== undefined) await authorizeKeyChoice(request, bucket, query.key_name);
      const info = await ops.put(bucket, key, bodyStream(request), {
        ...(query.key_name ? { keyName: query.key_name } : {}),
        actor: actor(request),
      });
      return reply.code(201).send(info);
    });
    scope.get('/v1/objects/:bucket/*', async (request, reply) => {
      const { bucket, key } = target(request);
      const verify = parseRequest(readQuery, request.query, 'query').verify ?? 'none';
      if (verify === 'only') return { verified: true, object: await ops.verify(bucket, key, actor(request)) };
      const { size, plaintext } = await ops.read(bucket, key, {
        verifyFirst: verify === 'first',
        actor: actor(request),
      });
      // A segment that fails after the headers destroys the stream: fastify then destroys the socket, so the client
      // sees an aborted response (never a clean end with partial data).
      return reply.type('application/octet-stream').header('content-length', size).send(plaintext);
    });
    scope.delete('/v1/objects/:bucket/*', async (request) => {
      const { bucket, key } = target(request);
      return ops.remove(bucket, key, actor(request));
    });
    scope.post('/v1/objects/:bucket/rewrap', async (request, reply) => {
      const { bucket } = target(request);
      const raw = reply.raw;
      let started = false;
      const line = (value: unknown) => {
        if (!started) {
          started = true;
          reply.hijack();
          raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        }
        raw.write(JSON.stringify(value) + '\n');
      };
      try {
        const report = await ops.rewrap(
          bucket,
          (event) => line({ type: 'progress', ...(event as object) }),
          actor(request),
        );
        line({ type: 'report', ...(report as object) });
      } catch (err) {
        if (!started) throw err;
        const gh = err instanceof GatehouseError ? err : new GatehouseError('ERR_INTERNAL');
        line({ type: 'error', code: gh.code, message: gh.message });
      }
      raw.end();
      return reply;
    });
  });
}
