import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import type { RunningGatehouse } from '../../src/app/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

// Response bodies are walked freely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let running: RunningGatehouse;
let logger: MemoryLogger;
let agent: Agent;
let adminToken: string;
const tmp = tempDir();

async function call(
  base: string,
  path: string,
  init: {
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    auth?: Record<string, string>;
    body?: unknown;
    raw?: string;
  } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Json }> {
  const res = await request(`${base}${path}`, {
    method: init.method ?? 'GET',
    dispatcher: agent,
    headers: {
      ...(init.auth ?? {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.raw === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    ...(init.raw === undefined ? {} : { body: init.raw }),
  });
  const text = await res.body.text();
  let body: Json = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.statusCode, headers: res.headers, body };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const admin = (path: string, body?: unknown, method: 'GET' | 'POST' = 'POST') =>
  call(running.endpoints.admin, path, { method, auth: bearer(adminToken), ...(body === undefined ? {} : { body }) });
const kms = (path: string, auth: Record<string, string>, body: unknown = {}) =>
  call(running.endpoints.kms, path, { method: 'POST', auth, body });
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function apiKey(scope: string): Promise<string> {
  const res = await admin('/v1/identity/api-keys', { name: `key ${scope}`, scope });
  expect(res.status).toBe(201);
  expect(res.headers['cache-control']).toBe('no-store');
  return res.body.key as string;
}

beforeAll(async () => {
  logger = new MemoryLogger();
  ({ running, adminToken } = await startTestGatehouse({ dataDir: tmp.dir, demoMesh: true, logger }));
  agent = trustingAgent(running.endpoints.trustBundle);
  for (const name of ['orders', 'billing'])
    expect((await kms(`/v1/transit/keys/${name}`, bearer(adminToken))).status).toBeLessThan(300);
});

afterAll(async () => {
  await agent?.close();
  await running?.stop();
  tmp.remove();
});

describe('authorization of our own APIs by scopes', () => {
  it('an API key allowed kms:encrypt:orders encrypts with orders, and can neither decrypt orders nor touch billing', async () => {
    const key = await apiKey('kms:encrypt:orders');
    for (const auth of [{ 'x-api-key': key }, bearer(key)]) {
      const enc = await kms('/v1/transit/encrypt/orders', auth, { plaintext: b64('hello') });
      expect(enc.status).toBe(200);
      const ciphertext = enc.body.data.ciphertext as string;
      const dec = await kms('/v1/transit/decrypt/orders', auth, { ciphertext });
      expect(dec.status).toBe(403);
      expect(dec.body.code).toBe('ERR_KMS_FORBIDDEN');
      expect((await kms('/v1/transit/encrypt/billing', auth, { plaintext: b64('x') })).status).toBe(403);
      expect((await kms('/v1/transit/keys/orders/rotate', auth)).status).toBe(403);
      expect((await kms('/v1/transit/datakey/plaintext/orders', auth)).status).toBe(403);
    }
    const decryptor = await apiKey('kms:decrypt:orders kms:datakey-plaintext:orders');
    const enc = await kms('/v1/transit/encrypt/orders', { 'x-api-key': key }, { plaintext: b64('hello') });
    const dec = await kms(
      '/v1/transit/decrypt/orders',
      { 'x-api-key': decryptor },
      { ciphertext: enc.body.data.ciphertext },
    );
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.data.plaintext, 'base64').toString()).toBe('hello');
    expect((await kms('/v1/transit/datakey/plaintext/orders', { 'x-api-key': decryptor })).status).toBe(200);
    expect((await kms('/v1/transit/datakey/wrapped/orders', { 'x-api-key': decryptor })).status).toBe(200);
    const denied = logger.lines.filter((l) => l['event'] === 'authorization.denied');
    expect(denied.length).toBeGreaterThan(0);
    expect(denied[0]?.['principal']).toMatch(/^api_key:ak_/);
    expect(JSON.stringify(logger.lines)).not.toContain(key);
  });

  it('access tokens of our issuer carry the same scopes: encrypt orders only', async () => {
    const audience = 'urn:gatehouse:platform'; // identity.platformAudience
    expect(
      (
        await admin('/v1/identity/apis', {
          audience,
          scopes: [
            { name: 'kms:encrypt:orders', description: 'encrypt with orders' },
            { name: 'kms:decrypt:orders', description: 'decrypt with orders' },
          ],
        })
      ).status,
    ).toBe(201);
    const created = await admin('/v1/identity/clients', {
      name: 'orders-service',
      grant_types: ['client_credentials'],
      scope: 'kms:encrypt:orders',
    });
    expect(created.status).toBe(201);
    const basic = Buffer.from(`${created.body.client_id}:${created.body.client_secret}`).toString('base64');
    const tokenRes = await call(running.endpoints.identity, '/oauth2/token', {
      method: 'POST',
      auth: { authorization: `Basic ${basic}` },
      raw: 'grant_type=client_credentials',
    });
    expect(tokenRes.status).toBe(200);
    const token = tokenRes.body.access_token as string;
    const enc = await kms('/v1/transit/encrypt/orders', bearer(token), { plaintext: b64('x') });
    expect(enc.status).toBe(200);
    expect(
      (await kms('/v1/transit/decrypt/orders', bearer(token), { ciphertext: enc.body.data.ciphertext })).status,
    ).toBe(403);
    expect((await kms('/v1/transit/encrypt/billing', bearer(token), { plaintext: b64('x') })).status).toBe(403);
    // the same scope granted for another API's audience is worth nothing here
    const elsewhere = 'https://crm.gatehouse.test';
    await admin('/v1/identity/apis', { audience: elsewhere, scopes: [{ name: 'admin', description: 'CRM admin' }] });
    const crm = await admin('/v1/identity/clients', {
      name: 'crm-admin',
      grant_types: ['client_credentials'],
      scope: 'admin',
      audiences: [elsewhere],
    });
    expect(crm.status).toBe(201);
    const crmBasic = Buffer.from(`${crm.body.client_id}:${crm.body.client_secret}`).toString('base64');
    const crmToken = (
      await call(running.endpoints.identity, '/oauth2/token', {
        method: 'POST',
        auth: { authorization: `Basic ${crmBasic}` },
        raw: 'grant_type=client_credentials',
      })
    ).body.access_token as string;
    expect((await kms('/v1/transit/keys/orders/rotate', bearer(crmToken))).status).toBe(401);
    expect((await call(running.endpoints.admin, '/v1/identity/api-keys', { auth: bearer(crmToken) })).status).toBe(401);
    // revoked at the identity issuer: refused at once by the KMS (same process, in-memory revocation list)
    const revoked = await call(running.endpoints.identity, '/oauth2/revoke', {
      method: 'POST',
      auth: { authorization: `Basic ${basic}` },
      raw: new URLSearchParams({ token }).toString(),
    });
    expect(revoked.status).toBe(200);
    const after = await kms('/v1/transit/encrypt/orders', bearer(token), { plaintext: b64('x') });
    expect(after.status).toBe(401);
  });

  it('bad or missing credentials are 401; a valid credential without the scope is 403', async () => {
    const none = await kms('/v1/transit/encrypt/orders', {}, { plaintext: b64('x') });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await kms('/v1/transit/encrypt/orders', bearer('not-a-token'), { plaintext: b64('x') })).status).toBe(401);
    // the last character changed, whatever it was (a key ending in A stayed the same key, 1 run in 64)
    const real = await apiKey('kms:encrypt:orders');
    const forged = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
    expect((await kms('/v1/transit/encrypt/orders', { 'x-api-key': forged }, { plaintext: b64('x') })).status).toBe(
      401,
    );
    const noScope = await apiKey('');
    const res = await kms('/v1/transit/encrypt/orders', { 'x-api-key': noScope }, { plaintext: b64('x') });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_KMS_FORBIDDEN');
  });

  it('the admin scope reaches the admin API and every KMS permission; other scopes get 403 there', async () => {
    const adminKey = await apiKey('admin');
    const list = await call(running.endpoints.admin, '/v1/identity/api-keys', { auth: bearer(adminKey) });
    expect(list.status).toBe(200);
    expect(list.body.api_keys.length).toBeGreaterThan(0);
    expect(JSON.stringify(list.body)).not.toContain('ghk_');
    const granted = logger.lines.find((l) => l['event'] === 'authorization.granted' && l['permission'] === 'admin');
    expect(granted).toMatchObject({ audit: true, principal: expect.stringMatching(/^api_key:ak_/) });
    expect((await kms('/v1/transit/keys/billing/rotate', bearer(adminKey))).status).toBe(200);
    const plain = await apiKey('kms:encrypt:orders');
    const forbidden = await call(running.endpoints.admin, '/v1/identity/api-keys', { auth: bearer(plain) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('ERR_ADMIN_FORBIDDEN');
    const bad = await call(running.endpoints.admin, '/v1/identity/api-keys', { auth: bearer('garbage') });
    expect(bad.status).toBe(401);
  });

  it('objects: object:write:<bucket> writes, object:read:<bucket> reads, nothing else', async () => {
    const writer = await apiKey('object:write:invoices');
    const reader = await apiKey('object:read:invoices');
    const put = (auth: Record<string, string>, bucket: string) =>
      request(`${running.endpoints.admin}/v1/objects/${bucket}/a.txt?key_name=orders`, {
        method: 'PUT',
        dispatcher: agent,
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body: 'object body',
      }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() }));
    // object:write:invoices does not reach the KMS key orders: naming it needs kms:encrypt:orders as well
    const chosen = await put({ 'x-api-key': writer }, 'invoices');
    expect([chosen.status, JSON.parse(chosen.text).code]).toEqual([403, 'ERR_OBJECT_KEY_FORBIDDEN']);
    const writerWithKey = await apiKey('object:write:invoices kms:encrypt:orders');
    expect((await put({ 'x-api-key': writerWithKey }, 'invoices')).status).toBe(201);
    expect((await put({ 'x-api-key': reader }, 'invoices')).status).toBe(403);
    expect((await put({ 'x-api-key': writer }, 'payroll')).status).toBe(403);
    const read = await call(running.endpoints.admin, '/v1/objects/invoices/a.txt', { auth: { 'x-api-key': reader } });
    expect(read.status).toBe(200);
    expect(read.body).toBe('object body');
    expect(
      (await call(running.endpoints.admin, '/v1/objects/payroll/a.txt', { auth: { 'x-api-key': reader } })).status,
    ).toBe(403);
    expect((await call(running.endpoints.admin, '/v1/objects', { auth: { 'x-api-key': reader } })).status).toBe(403);
    expect((await call(running.endpoints.admin, '/v1/objects/invoices/a.txt', {})).status).toBe(401);
    const lines = logger.lines.filter((l) => /^(object|kms):/.test(String(l['permission'] ?? '')));
    expect(lines.map((l) => `${String(l['event'])} ${String(l['permission'])}`)).toEqual(
      expect.arrayContaining([
        'authorization.granted object:write:invoices',
        'authorization.denied object:write:invoices',
        'authorization.denied kms:encrypt:orders',
        'authorization.granted object:read:invoices',
        'authorization.denied object:read:payroll',
      ]),
    );
  });
});
