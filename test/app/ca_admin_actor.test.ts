import { afterEach, describe, expect, it } from 'vitest';
import { caAdminOperations } from '../../src/app/ca_operations.js';
import type { PlatformCore } from '../../src/app/compose.js';
import type { IdentityServer } from '../../src/app/identity_server.js';
import { platformCallers } from '../../src/app/platform_authorizer.js';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import { registerCaAdminRoutes } from '../../src/http/index.js';
import type { Enrollment } from '../../src/pki/index.js';
import { closeTestListeners, testListener } from '../http/fake_kms.js';

afterEach(closeTestListeners);

const ADMIN_TOKEN = 'gha_the-admin-token';
/** API keys the fake identity server knows: one with the `admin` scope, one without. */
const KEYS: Record<string, { id: string; scopes: string[] }> = {
  ghk_admin: { id: 'ak_admin', scopes: ['admin'] },
  ghk_plain: { id: 'ak_plain', scopes: ['kms:encrypt:orders'] },
};
const SPIFFE_ID = 'spiffe://gatehouse.test/ns/shop/sa/orders';

/**
 * The CA's admin routes over caAdminOperations, admitted by the platform authorizer's admin check (the admin token,
 * or an API key with the `admin` scope: `gatehouse up` wires the CA routes to the admin token alone, see
 * test/app/admin_audit_actor.test.ts for that path).
 */
function setup() {
  const logger = new MemoryLogger();
  const identity = {
    apiKeys: { index: { verify: (key: string) => KEYS[key] } },
    revocations: { isRevoked: () => false },
    tokens: { claims: () => undefined },
  } as unknown as IdentityServer;
  const callers = platformCallers({
    identity,
    checkAdminToken: (token) => token === ADMIN_TOKEN,
    apiKeyHeader: 'x-api-key',
    platformAudience: 'urn:gatehouse:platform',
    clock: new ManualClock(0),
    logger,
  });
  const enrollment = {
    createJoinToken: async (spiffeId: string, ttlMs: number) => ({ token: 'jt', spiffeId, expiresAt: ttlMs }),
    revoke: async (spiffeId: string) => ({ spiffeId, revokedAt: 0, expiresAt: 0 }),
  } as unknown as Enrollment;
  const core = { config: loadConfig({}), logger, authority: {} } as unknown as PlatformCore;
  const server = testListener('admin', logger);
  registerCaAdminRoutes(
    server.app,
    (token) => callers.adminCheck(token),
    caAdminOperations({ core, enrollment, refreshHintSeconds: 300, onBundleChange: async () => {}, logger }),
  );
  const post = (path: string, token: string, payload: object) =>
    server.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${token}` }, payload });
  const actors = (operation: string) =>
    logger.lines.filter((l) => l['audit'] === true && l['operation'] === operation).map((l) => l['actor']);
  return { post, actors, logger };
}

describe('the actor of the CA admin audit lines', () => {
  it('is admin-token for the admin token, the principal for an API key with the admin scope', async () => {
    const { post, actors, logger } = setup();
    expect((await post('/v1/ca/join-tokens', ADMIN_TOKEN, { spiffe_id: SPIFFE_ID })).statusCode).toBe(201);
    expect((await post('/v1/ca/join-tokens', 'ghk_admin', { spiffe_id: SPIFFE_ID })).statusCode).toBe(201);
    expect(actors('ca.join-token')).toEqual(['admin-token', 'api_key:ak_admin']);
    const granted = logger.lines.filter((l) => l['event'] === 'authorization.granted').map((l) => l['principal']);
    expect(granted).toEqual(['api_key:ak_admin']);
    expect((await post('/v1/ca/revoke', 'ghk_admin', { spiffe_id: SPIFFE_ID })).statusCode).toBe(200);
    expect(actors('ca.revoke')).toEqual(['api_key:ak_admin']);
  });

  it('writes no line for a refused caller', async () => {
    const { post, actors } = setup();
    expect((await post('/v1/ca/join-tokens', 'ghk_plain', { spiffe_id: SPIFFE_ID })).statusCode).toBe(403);
    expect((await post('/v1/ca/join-tokens', 'ghk_unknown', { spiffe_id: SPIFFE_ID })).statusCode).toBe(401);
    expect(actors('ca.join-token')).toEqual([]);
  });
});
