import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { GatehouseError, isGatehouseError, parseDuration, type Logger } from '../core/index.js';
import type { Enrollment, IssuedSvid, SpiffeBundle } from '../pki/index.js';
import { adminCall, requireAdminToken, type AdminCall, type AdminTokenCheck } from './admin_auth.js';
import type { CaThrottle } from './ca_throttle.js';
import { parseRequest } from './request_parse.js';

/** What the public CA routes need. */
export interface CaRoutesOptions {
  enrollment: Enrollment;
  /** The trust bundle as PEM (roots and live intermediates). */
  bundlePem(): string;
  spiffeBundle(): SpiffeBundle;
  /** The limits of sign and renew (`pki.limits`); the GETs are not limited. */
  throttle: CaThrottle;
  logger: Logger;
}

/**
 * What the admin CA routes need; app/ca_operations.ts implements it. Results are JSON-ready (snake_case). The
 * operations that change something take the {@link AdminCall} first (who called, for the audit line).
 */
export interface CaAdminOperations {
  createJoinToken(call: AdminCall, spiffeId: string, ttlMs?: number): Promise<unknown>;
  revoke(call: AdminCall, spiffeId: string): Promise<unknown>;
  rotate(call: AdminCall): Promise<unknown>;
  bundle(): Promise<{ pem: string; spiffe: SpiffeBundle }>;
}

const MAX_CSR_CHARS = 16_384;
const ttl = z
  .string()
  .max(16)
  .refine((v) => parseDuration(v) !== undefined, 'expected a duration such as 10m or 24h')
  .optional();
const signBody = z.strictObject({
  csr: z.string().min(1).max(MAX_CSR_CHARS),
  join_token: z.string().min(1).max(128).optional(),
  spiffe_id: z.string().min(1).max(2048).optional(),
  dns_names: z.array(z.string().min(1).max(253)).max(32).optional(),
  ttl,
});
const renewBody = z.strictObject({ csr: z.string().min(1).max(MAX_CSR_CHARS), ttl });
const joinTokenBody = z.strictObject({ spiffe_id: z.string().min(1).max(2048), ttl });
const revokeBody = z.strictObject({ spiffe_id: z.string().min(1).max(2048) });
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

function ttlMs(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseDuration(text);
}

function answer(svid: IssuedSvid, bundlePem: string): object {
  return {
    spiffe_id: svid.spiffeId,
    certificate_chain: svid.chainPem,
    bundle: bundlePem,
    serial_number: svid.serialNumber,
    not_before: new Date(svid.notBefore).toISOString(),
    not_after: new Date(svid.notAfter).toISOString(),
  };
}

/** A refused bootstrap credential: what spends from `pki.limits.failedBootstrapPerAddress`. */
function isCredentialRefusal(err: unknown): boolean {
  return isGatehouseError(err, 'ERR_PKI_JOIN_TOKEN_INVALID') || isGatehouseError(err, 'ERR_PKI_UNAUTHENTICATED');
}

function addressOf(request: FastifyRequest): string {
  return request.socket.remoteAddress ?? 'unknown';
}

/** Signs for the join token or access token the request carries. */
async function sign(request: FastifyRequest, options: CaRoutesOptions): Promise<object> {
  const { enrollment } = options;
  const body = parseRequest(signBody, request.body);
  const input = {
    csrPem: body.csr,
    ...(body.spiffe_id === undefined ? {} : { spiffeId: body.spiffe_id }),
    ...(body.dns_names === undefined ? {} : { dnsNames: body.dns_names }),
    ...(body.ttl === undefined ? {} : { ttlMs: ttlMs(body.ttl) as number }),
  };
  const header = request.headers.authorization;
  if (body.join_token !== undefined) {
    return answer(await enrollment.signWithJoinToken(input, body.join_token), options.bundlePem());
  }
  const bearer = typeof header === 'string' ? BEARER.exec(header) : null;
  if (bearer) return answer(await enrollment.signWithAccessToken(input, bearer[1] as string), options.bundlePem());
  throw new GatehouseError('ERR_PKI_UNAUTHENTICATED', { detail: 'no join token and no access token' });
}

async function refused<T>(logger: Logger, request: FastifyRequest, route: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isGatehouseError(err) && err.status < 500) {
      logger.warn(
        { route, code: err.code, reason: err.detail ?? err.message, remote: request.socket.remoteAddress },
        `CA ${route} refused`,
      );
    }
    throw err;
  }
}

/**
 * The CA listener's public API: `POST /v1/ca/sign` (CSR + join token or `Authorization: Bearer` access token),
 * `POST /v1/ca/renew` (mTLS with the current SVID, CSR with a new key), `GET /v1/ca/bundle.pem`,
 * `GET /v1/ca/bundle.json` (SPIFFE bundle) and `GET /v1/ca/denylist`. Sign and renew are rate limited by `throttle`
 * (429 `ERR_PKI_RATE_LIMITED` with Retry-After, before the request is judged or a token looked up). Every refusal is
 * logged with its reason (a rate limit with the limit's name).
 *
 * @example
 * registerCaRoutes(server.app, { enrollment, bundlePem: () => ca.trustBundlePem(), spiffeBundle, throttle, logger });
 */
export function registerCaRoutes(app: FastifyInstance, options: CaRoutesOptions): void {
  const { enrollment, throttle, logger } = options;
  app.post('/v1/ca/sign', async (request) =>
    refused(logger, request, 'sign', async () => {
      const address = addressOf(request);
      await throttle.admitSign(address);
      try {
        return await sign(request, options);
      } catch (err) {
        if (isCredentialRefusal(err)) await throttle.failedBootstrap(address);
        throw err;
      }
    }),
  );
  app.post('/v1/ca/renew', async (request) =>
    refused(logger, request, 'renew', async () => {
      await throttle.admitRenew(addressOf(request));
      const socket = request.raw.socket as TLSSocket;
      const peer = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
      if (!peer) throw new GatehouseError('ERR_PKI_UNAUTHENTICATED', { detail: 'no client certificate' });
      if (!socket.authorized) {
        throw new GatehouseError('ERR_PKI_UNAUTHENTICATED', {
          detail: `client certificate not trusted: ${String(socket.authorizationError)}`,
        });
      }
      const spiffeId = enrollment.peerSpiffeId(peer.raw);
      if (spiffeId !== undefined) await throttle.admitRenewOf(spiffeId);
      const body = parseRequest(renewBody, request.body);
      const input = { csrPem: body.csr, ...(body.ttl === undefined ? {} : { ttlMs: ttlMs(body.ttl) as number }) };
      return answer(await enrollment.renew(input, peer.raw), options.bundlePem());
    }),
  );
  app.get('/v1/ca/bundle.pem', async (_request, reply) =>
    reply
      .header('content-type', 'application/x-pem-file')
      .header('cache-control', 'max-age=60')
      .send(options.bundlePem()),
  );
  app.get('/v1/ca/bundle.json', async (_request, reply) =>
    reply.header('cache-control', 'max-age=60').send(options.spiffeBundle()),
  );
  app.get('/v1/ca/denylist', async () => ({
    entries: (await enrollment.refreshDenyList()).map((e) => ({
      spiffe_id: e.spiffeId,
      revoked_at: new Date(e.revokedAt).toISOString(),
      expires_at: new Date(e.expiresAt).toISOString(),
    })),
  }));
}

/**
 * The CA's admin routes (admin listener, admin token): `POST /v1/ca/join-tokens`, `POST /v1/ca/revoke`,
 * `POST /v1/ca/rotate`, `GET /v1/ca/bundle` (`GET /v1/ca/status` is in the admin routes).
 *
 * @example
 * registerCaAdminRoutes(admin.app, adminTokenOnly((token) => adminToken.check(token)), caAdminOperations(...));
 */
export function registerCaAdminRoutes(app: FastifyInstance, checkToken: AdminTokenCheck, ops: CaAdminOperations): void {
  void app.register(async (scope) => {
    scope.addHook('preHandler', requireAdminToken(checkToken));
    scope.post('/v1/ca/join-tokens', async (request, reply) => {
      const body = parseRequest(joinTokenBody, request.body);
      return reply.code(201).send(await ops.createJoinToken(adminCall(request), body.spiffe_id, ttlMs(body.ttl)));
    });
    scope.post('/v1/ca/revoke', async (request) =>
      ops.revoke(adminCall(request), parseRequest(revokeBody, request.body).spiffe_id),
    );
    scope.post('/v1/ca/rotate', async (request) => ops.rotate(adminCall(request)));
    scope.get('/v1/ca/bundle', async () => ops.bundle());
  });
}
