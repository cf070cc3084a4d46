import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import type { RunningGatehouse } from '../../src/app/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { callJson, trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { clientCredentialsToken, startTestGatehouse } from '../support/up.js';

// Every admin operation's audit line said `actor: "admin-token"`, also when the caller was an API key or an access
// token admitted by the `admin` scope (app/platform_authorizer.ts), whose `authorization.granted` line named it.

let running: RunningGatehouse;
let logger: MemoryLogger;
let agent: Agent;
let adminToken: string;
/** An API key with the `admin` scope, and its principal (`api_key:<id>`). */
let adminKey: { key: string; principal: string };
const tmp = tempDir('gh-admin-actor-');

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const call = (token: string, path: string, init: { method?: string; json?: unknown } = {}) =>
  callJson(agent, `${running.endpoints.admin}${path}`, { headers: bearer(token), ...init });
/** `PUT /v1/objects/...` with raw bytes. */
const putObject = async (token: string, path: string, bytes: string) => {
  const res = await request(`${running.endpoints.admin}${path}`, {
    method: 'PUT',
    dispatcher: agent,
    headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await res.body.dump();
  return res.statusCode;
};

/** The audit lines (`audit: true`) whose fields include all of `match`. */
const auditLines = (match: Record<string, unknown>) =>
  logger.lines.filter((l) => l['audit'] === true && Object.entries(match).every(([k, v]) => l[k] === v));
/** The `actor` of the one audit line matching `match`. */
const actorOf = (match: Record<string, unknown>) => {
  const lines = auditLines(match);
  expect(lines, JSON.stringify(match)).toHaveLength(1);
  return lines[0]?.['actor'];
};

beforeAll(async () => {
  logger = new MemoryLogger();
  ({ running, adminToken } = await startTestGatehouse({ dataDir: tmp.dir, logger }));
  agent = trustingAgent(running.endpoints.trustBundle);
  const created = await call(adminToken, '/v1/identity/api-keys', { json: { name: 'operator', scope: 'admin' } });
  expect(created.status).toBe(201);
  adminKey = { key: created.body.key as string, principal: `api_key:${created.body.id as string}` };
});

afterAll(async () => {
  await agent?.close();
  await running?.stop();
  tmp.remove();
});

describe('the actor of admin operation audit lines', () => {
  it('is admin-token for the admin token, the API key for an API key with the admin scope (admin_operations)', async () => {
    expect((await call(adminToken, '/v1/kms/keys', { json: { name: 'by-token' } })).status).toBe(201);
    expect((await call(adminKey.key, '/v1/kms/keys', { json: { name: 'by-key' } })).status).toBe(201);
    expect(actorOf({ operation: 'kms.key.create', key_name: 'by-token' })).toBe('admin-token');
    expect(actorOf({ operation: 'kms.key.create', key_name: 'by-key' })).toBe(adminKey.principal);
    // the name is the one the authorizer's own line gives the caller
    const granted = auditLines({ event: 'authorization.granted', permission: 'admin' }).map((l) => l['principal']);
    expect(granted).toContain(adminKey.principal);
    expect((await call(adminKey.key, '/v1/kms/keys/by-key/rotate', { json: {} })).status).toBe(200);
    expect(actorOf({ operation: 'kms.key.rotate', key_name: 'by-key' })).toBe(adminKey.principal);
  });

  it('names the client of an access token with the admin scope', async () => {
    const audience = 'urn:gatehouse:platform'; // identity.platformAudience
    const api = await call(adminToken, '/v1/identity/apis', {
      json: { audience, scopes: [{ name: 'admin', description: 'everything' }] },
    });
    expect(api.status).toBe(201);
    const client = await call(adminToken, '/v1/identity/clients', {
      json: { name: 'operator-service', grant_types: ['client_credentials'], scope: 'admin', audiences: [audience] },
    });
    expect(client.status).toBe(201);
    const clientId = client.body.client_id as string;
    const basic = `Basic ${Buffer.from(`${clientId}:${client.body.client_secret as string}`).toString('base64')}`;
    const token = await clientCredentialsToken(agent, running.endpoints.identity, basic, audience);
    expect((await call(token, '/v1/kms/keys', { json: { name: 'by-client' } })).status).toBe(201);
    expect(actorOf({ operation: 'kms.key.create', key_name: 'by-client' })).toBe(`client:${clientId}`);
  });

  it('identity_admin: APIs and clients', async () => {
    const scopes = [{ name: 'read', description: 'read' }];
    for (const [token, audience] of [
      [adminToken, 'https://by-token.example'],
      [adminKey.key, 'https://by-key.example'],
    ] as const) {
      expect((await call(token, '/v1/identity/apis', { json: { audience, scopes } })).status).toBe(201);
      expect(
        (await call(token, `/v1/identity/apis/${encodeURIComponent(audience)}`, { method: 'DELETE' })).status,
      ).toBe(200);
    }
    expect(actorOf({ operation: 'identity.api.create', audience: 'https://by-token.example' })).toBe('admin-token');
    expect(actorOf({ operation: 'identity.api.create', audience: 'https://by-key.example' })).toBe(adminKey.principal);
    expect(actorOf({ operation: 'identity.api.delete', audience: 'https://by-key.example' })).toBe(adminKey.principal);
    const created = await call(adminKey.key, '/v1/identity/clients', {
      json: { name: 'made-by-a-key', grant_types: ['client_credentials'] },
    });
    expect(created.status).toBe(201);
    const clientId = created.body.client_id as string;
    expect(actorOf({ operation: 'identity.client.create', clientId })).toBe(adminKey.principal);
    expect((await call(adminToken, `/v1/identity/clients/${clientId}/rotate-secret`, { json: {} })).status).toBe(200);
    expect(actorOf({ operation: 'identity.client.rotate-secret', clientId })).toBe('admin-token');
  });

  it('user_admin: users', async () => {
    const password = 'correct horse battery staple';
    for (const [token, username] of [
      [adminToken, 'by-token'],
      [adminKey.key, 'by-key'],
    ] as const) {
      expect((await call(token, '/v1/identity/users', { json: { username, password } })).status).toBe(201);
    }
    expect(actorOf({ operation: 'identity.user.create', username: 'by-token' })).toBe('admin-token');
    expect(actorOf({ operation: 'identity.user.create', username: 'by-key' })).toBe(adminKey.principal);
    expect((await call(adminKey.key, '/v1/identity/users/by-token/disable', { json: {} })).status).toBe(200);
    expect(actorOf({ operation: 'identity.user.disable', username: 'by-token' })).toBe(adminKey.principal);
  });

  it('object_operations: objects and backups', async () => {
    expect(await putObject(adminToken, '/v1/objects/audit/by-token.txt', 'a')).toBe(201);
    expect(await putObject(adminKey.key, '/v1/objects/audit/by-key.txt', 'b')).toBe(201);
    const puts = auditLines({ msg: 'object operation', operation: 'object.put', bucket: 'audit' });
    expect(puts.map((l) => [l['actor'], l['result']])).toEqual([
      ['admin-token', 'ok'],
      [adminKey.principal, 'ok'],
    ]);
    expect((await call(adminKey.key, '/v1/objects/audit/by-token.txt', { method: 'DELETE' })).status).toBe(200);
    expect(actorOf({ operation: 'object.rm', bucket: 'audit' })).toBe(adminKey.principal);
    for (const token of [adminToken, adminKey.key]) {
      expect((await call(token, '/v1/backup', { method: 'POST' })).status).toBe(200);
    }
    expect(auditLines({ operation: 'backup' }).map((l) => l['actor'])).toEqual(['admin-token', adminKey.principal]);
  });

  it('apikey_admin: API keys', async () => {
    const made = await call(adminKey.key, '/v1/identity/api-keys', { json: { name: 'made-by-a-key' } });
    expect(made.status).toBe(201);
    expect(actorOf({ event: 'api_key.created', name: 'made-by-a-key' })).toBe(adminKey.principal);
    expect(
      (await call(adminToken, `/v1/identity/api-keys/${made.body.id as string}/revoke`, { json: {} })).status,
    ).toBe(200);
    expect(actorOf({ event: 'api_key.revoked', name: 'made-by-a-key' })).toBe('admin-token');
    expect(actorOf({ event: 'api_key.created', name: 'operator' })).toBe('admin-token');
  });

  it('ca_operations: join tokens made with the admin token and with an admin-scope API key', async () => {
    const spiffeId = `spiffe://${running.core.config.trustDomain}/ns/audit/sa/by-token`;
    expect((await call(adminToken, '/v1/ca/join-tokens', { json: { spiffe_id: spiffeId } })).status).toBe(201);
    expect(actorOf({ operation: 'ca.join-token', spiffeId })).toBe('admin-token');
    // the CA's admin routes take what every admin route takes (docs/operations.md "Admin API")
    const byKey = `spiffe://${running.core.config.trustDomain}/ns/audit/sa/by-key`;
    expect((await call(adminKey.key, '/v1/ca/join-tokens', { json: { spiffe_id: byKey } })).status).toBe(201);
    expect(actorOf({ operation: 'ca.join-token', spiffeId: byKey })).toBe(adminKey.principal);
  });
});
