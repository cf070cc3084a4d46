import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatehouseError, isGatehouseError, type Logger } from '../core/index.js';
import { checkKeyName } from '../kms/index.js';
import { adminCall, requireAdminToken, type AdminTokenCheck } from './admin_auth.js';
import { kmsAudit, type KmsAudit, type KmsAuditEntry } from './kms_audit.js';
import type { KmsContext, KmsOperations, KmsStreamHeader } from './kms_port.js';
import { checkContext } from './kms_request.js';
import { parseRequest } from './request_parse.js';

const MAX_CONTEXT_PARAMS = 64;

const dataKeyBody = z.strictObject({
  key: z.string(),
  context: z.unknown().optional(),
  wrapped_only: z.boolean().optional(),
});

/**
 * The encryption context of a streaming call: repeated `context=k=v` query parameters (split at the first `=`).
 *
 * @example
 * contextFromQuery({ context: ['tenant=acme', 'table=orders'] }); // { tenant: 'acme', table: 'orders' }
 */
export function contextFromQuery(query: unknown): KmsContext {
  const raw = (query as { context?: unknown } | undefined)?.context;
  if (raw === undefined) return {};
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > MAX_CONTEXT_PARAMS) {
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: `Invalid request: context: at most 64 pairs` });
  }
  // No prototype: a `__proto__=v` pair becomes an own key like any other (on `{}` it would set the prototype and vanish).
  const pairs: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const entry of list) {
    const text = String(entry);
    const at = text.indexOf('=');
    const key = at < 0 ? '' : text.slice(0, at);
    if (at <= 0 || Object.hasOwn(pairs, key)) {
      throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
        message: 'Invalid request: context: expected distinct k=v pairs',
      });
    }
    pairs[key] = text.slice(at + 1);
  }
  return checkContext(pairs);
}

/** Refuses query parameters a streaming call does not define (never ignored: `segment_size=...` would be). */
function checkQuery(query: unknown, allowed: readonly string[]): void {
  for (const name of Object.keys((query ?? {}) as object)) {
    if (!allowed.includes(name)) {
      throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
        message: `Invalid request: unknown query parameter ${JSON.stringify(name.slice(0, 64))}`,
      });
    }
  }
}

function keyFromQuery(query: unknown): string {
  const key = (query as { key?: unknown } | undefined)?.key;
  if (typeof key !== 'string') throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: 'Invalid request: key' });
  checkKeyName(key);
  return key;
}

function bodyStream(request: FastifyRequest): Readable {
  const body = request.body as Readable | undefined;
  if (!body || typeof body.pipe !== 'function') {
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: 'Expected an application/octet-stream body' });
  }
  return body;
}

/** Sends a streamed result once its header is known; a later failure aborts the response instead of ending it. */
async function sendStream(
  reply: FastifyReply,
  audit: KmsAudit,
  entry: Omit<KmsAuditEntry, 'result'>,
  started: { output: Readable; header: Promise<KmsStreamHeader> },
): Promise<FastifyReply> {
  let header: KmsStreamHeader;
  try {
    header = await started.header;
  } catch (err) {
    started.output.destroy();
    audit({ ...entry, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' });
    throw err;
  }
  const done = { key: header.keyName, versions: [header.keyVersion] };
  started.output.once('error', (err) => {
    audit({ ...entry, ...done, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' });
  });
  started.output.once('end', () => audit({ ...entry, ...done, result: 'ok' }));
  return reply.type('application/octet-stream').send(started.output);
}

/**
 * Streaming KMS endpoints on the admin listener, for the CLI (admin token): `POST /v1/kms/stream/encrypt?key=NAME`,
 * `/v1/kms/stream/decrypt`, `/v1/kms/stream/verify`, `/v1/kms/stream/rewrap` (context as repeated `context=k=v`
 * query parameters; raw application/octet-stream bodies passed through unbuffered, in constant memory) and
 * `POST /v1/kms/datakey` (JSON).
 *
 * Every call writes one audit line naming the caller its bearer check admitted (`admin-token` for the admin token,
 * `api_key:<id>` or `client:<client_id>` for one with the `admin` scope), a refused request (bad key name, context or
 * field) included.
 *
 * @example
 * registerKmsStreamRoutes(admin.app, { ops, checkToken, logger });
 */
export function registerKmsStreamRoutes(
  app: FastifyInstance,
  options: {
    ops: KmsOperations;
    checkToken: AdminTokenCheck;
    logger: Logger;
  },
): void {
  const { ops } = options;
  const audit = kmsAudit(options.logger);
  /** The admitted caller of the admin bearer check (`admin-token`, `api_key:<id>`, `client:<client_id>`). */
  const principalOf = (request: FastifyRequest): string => adminCall(request).actor;
  /** Runs a request's checks; a refusal is audited (with what is known so far) before it is answered. */
  const checked = <T>(principal: string, operation: string, check: () => T): T => {
    try {
      return check();
    } catch (err) {
      audit({ principal, operation, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' });
      throw err;
    }
  };
  void app.register(async (scope) => {
    scope.addHook('onRequest', requireAdminToken(options.checkToken));
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

    scope.post('/v1/kms/stream/encrypt', async (request, reply) => {
      const principal = principalOf(request);
      const { key, context, body } = checked(principal, 'stream.encrypt', () => {
        checkQuery(request.query, ['key', 'context']);
        return {
          key: keyFromQuery(request.query),
          context: contextFromQuery(request.query),
          body: bodyStream(request),
        };
      });
      const entry = { principal, operation: 'stream.encrypt', key, contextKeys: Object.keys(context) };
      return sendStream(reply, audit, entry, ops.streams.encrypt(key, context, body));
    });
    scope.post('/v1/kms/stream/decrypt', async (request, reply) => {
      const principal = principalOf(request);
      const { context, body } = checked(principal, 'stream.decrypt', () => {
        checkQuery(request.query, ['context']);
        return { context: contextFromQuery(request.query), body: bodyStream(request) };
      });
      const entry = { principal, operation: 'stream.decrypt', contextKeys: Object.keys(context) };
      return sendStream(reply, audit, entry, ops.streams.decrypt(context, body));
    });
    scope.post('/v1/kms/stream/rewrap', async (request, reply) => {
      const principal = principalOf(request);
      const { context, body } = checked(principal, 'stream.rewrap', () => {
        checkQuery(request.query, ['context']);
        return { context: contextFromQuery(request.query), body: bodyStream(request) };
      });
      const entry = { principal, operation: 'stream.rewrap', contextKeys: Object.keys(context) };
      return sendStream(reply, audit, entry, ops.streams.rewrap(context, body));
    });
    scope.post('/v1/kms/stream/verify', async (request) => {
      const principal = principalOf(request);
      const { context, body } = checked(principal, 'stream.verify', () => {
        checkQuery(request.query, ['context']);
        return { context: contextFromQuery(request.query), body: bodyStream(request) };
      });
      const entry = { principal, operation: 'stream.verify', contextKeys: Object.keys(context) };
      try {
        const header = await ops.streams.verify(context, body);
        audit({ ...entry, key: header.keyName, versions: [header.keyVersion], result: 'ok' });
        return { data: { key_name: header.keyName, key_version: header.keyVersion } };
      } catch (err) {
        audit({ ...entry, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' });
        throw err;
      }
    });
    scope.post('/v1/kms/datakey', async (request) => {
      // Strict: a `wrapped_only` that is not a boolean, or a field this call does not know, is refused rather than
      // read as "with plaintext" or ignored.
      const principal = principalOf(request);
      const { body, context } = checked(principal, 'datakey', () => {
        const parsed = parseRequest(dataKeyBody, request.body ?? {});
        checkKeyName(parsed.key);
        return { body: parsed, context: parsed.context === undefined ? {} : checkContext(parsed.context) };
      });
      const plaintext = body.wrapped_only !== true;
      const entry = { principal, operation: 'datakey', key: body.key, contextKeys: Object.keys(context) };
      try {
        const key = await ops.dataKey(body.key, context, { plaintext });
        audit({ ...entry, versions: [key.keyVersion], result: 'ok' });
        const out: Record<string, unknown> = { ciphertext: key.ciphertext, key_version: key.keyVersion };
        if (plaintext && key.plaintext) {
          out.plaintext = key.plaintext.toString('base64');
          key.plaintext.fill(0);
        }
        return { data: out };
      } catch (err) {
        audit({ ...entry, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' });
        throw err;
      }
    });
  });
}
