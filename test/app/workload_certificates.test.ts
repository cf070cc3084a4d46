import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { request } from 'undici';
import type { RunningGatehouse } from '../../src/app/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { newKeyAndCsr } from '../../src/mesh/index.js';
import { meshCa } from '../mesh/helpers.js';
import { bundleAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

// Response bodies are walked freely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PLATFORM = 'urn:gatehouse:platform'; // identity.platformAudience
const tmp = tempDir();
const agents: Agent[] = [];
let running: RunningGatehouse;
let logger: MemoryLogger;
let bundlePem: string;
let adminToken: string;
let td: string;
let ordersClientId: string;
const workload = (sa: string) => `spiffe://${td}/ns/shop/sa/${sa}`;

interface Material {
  chainPem: string;
  keyPem: string;
}

/** An undici agent trusting the platform bundle, presenting `cert` when given. */
function agentWith(cert?: Material): Agent {
  const agent = bundleAgent(bundlePem, cert);
  agents.push(agent);
  return agent;
}

/** An X.509-SVID for `spiffeId` from the platform CA of the running gatehouse up. */
async function svid(spiffeId: string): Promise<Material> {
  const { keyPem, csrPem } = await newKeyAndCsr();
  return { chainPem: running.core.authority.issueSvid({ csrPem, spiffeId }).chainPem, keyPem };
}

async function call(
  agent: Agent,
  url: string,
  init: { headers?: Record<string, string>; json?: unknown; form?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Json }> {
  const res = await request(url, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      ...(init.headers ?? {}),
      ...(init.form === undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    body: init.form ?? JSON.stringify(init.json ?? {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

let plain: Agent;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const admin = (path: string, json: unknown) =>
  call(plain, `${running.endpoints.admin}${path}`, { headers: bearer(adminToken), json });
const kms = (agent: Agent, path: string, json: unknown = {}, headers: Record<string, string> = {}) =>
  call(agent, `${running.endpoints.kms}${path}`, { json, headers });
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function client(body: Record<string, unknown>): Promise<{ id: string; secret?: string }> {
  const created = await admin('/v1/identity/clients', { grant_types: ['client_credentials'], ...body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { id: created.body.client_id, secret: created.body.client_secret };
}

async function accessToken(id: string, secret: string): Promise<string> {
  const basic = Buffer.from(`${id}:${secret}`).toString('base64');
  const res = await call(plain, `${running.endpoints.identity}/oauth2/token`, {
    headers: { authorization: `Basic ${basic}` },
    form: 'grant_type=client_credentials',
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token as string;
}

function expectRefused(res: { status: number; headers: Record<string, unknown>; body: Json }): void {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('ERR_WORKLOAD_CERTIFICATE_REFUSED');
}

beforeAll(async () => {
  logger = new MemoryLogger();
  ({ running, bundlePem, adminToken } = await startTestGatehouse({ dataDir: tmp.dir, logger }));
  td = running.endpoints.trustDomain;
  plain = agentWith();
  for (const name of ['orders', 'billing']) {
    expect((await kms(plain, `/v1/transit/keys/${name}`, {}, bearer(adminToken))).status).toBeLessThan(300);
  }
  const api = await admin('/v1/identity/apis', {
    audience: PLATFORM,
    scopes: [
      { name: 'kms:encrypt:orders', description: 'encrypt with orders' },
      { name: 'kms:decrypt:orders', description: 'decrypt with orders' },
      { name: 'object:write:invoices', description: 'write invoices' },
      { name: 'object:read:invoices', description: 'read invoices' },
    ],
  });
  expect(api.status, JSON.stringify(api.body)).toBe(201);
  ordersClientId = (
    await client({ name: 'orders-workload', scope: 'kms:encrypt:orders', spiffe_ids: [workload('orders')] })
  ).id;
  // The same SPIFFE ID held by two clients: ambiguous, so refused.
  for (const name of ['twin-a', 'twin-b']) {
    await client({ name, scope: 'kms:encrypt:orders', spiffe_ids: [workload('twin')] });
  }
});

afterAll(async () => {
  for (const agent of agents) await agent.close();
  await running?.stop();
  tmp.remove();
});

describe('workload certificates (X.509-SVIDs) on the KMS API', () => {
  it('an SVID whose SPIFFE ID a client holds acts as that client: encrypt with orders, nothing else', async () => {
    const orders = agentWith(await svid(workload('orders')));
    const enc = await kms(orders, '/v1/transit/encrypt/orders', { plaintext: b64('order 42') });
    expect(enc.status, JSON.stringify(enc.body)).toBe(200);
    const ciphertext = enc.body.data.ciphertext as string;
    expect(ciphertext.startsWith('gh1:')).toBe(true);

    const dec = await kms(orders, '/v1/transit/decrypt/orders', { ciphertext });
    expect(dec.status).toBe(403);
    expect(dec.body.code).toBe('ERR_KMS_FORBIDDEN');
    for (const op of ['encrypt', 'decrypt', 'rewrap']) {
      const res = await kms(orders, `/v1/transit/${op}/billing`, { plaintext: b64('x'), ciphertext });
      expect(res.status, op).toBe(403);
      expect(res.body.code).toBe('ERR_KMS_FORBIDDEN');
    }
    expect((await kms(orders, '/v1/transit/keys/orders/rotate')).status).toBe(403);
    expect((await kms(orders, '/v1/transit/datakey/plaintext/orders')).status).toBe(403);

    // The admin token decrypts what the workload encrypted.
    const back = await kms(plain, '/v1/transit/decrypt/orders', { ciphertext }, bearer(adminToken));
    expect(Buffer.from(back.body.data.plaintext, 'base64').toString()).toBe('order 42');

    // Audited with the SPIFFE ID and the client it acted as.
    const principal = `spiffe:${workload('orders')}`;
    const calls = logger.lines.filter((l) => l['component'] === 'kms' && l['principal'] === principal);
    expect(calls.some((l) => l['operation'] === 'transit.encrypt' && l['result'] === 'ok')).toBe(true);
    expect(calls.every((l) => l['client'] === ordersClientId)).toBe(true);
    // Refusals for lack of permission are audited by the authorizer with the caller's identity.
    const denied = logger.lines.filter((l) => l['event'] === 'authorization.denied' && l['principal'] === principal);
    expect(denied.map((l) => l['permission'])).toContain('kms:decrypt:orders');
    expect(denied.every((l) => l['client'] === ordersClientId)).toBe(true);
  });

  it('an SVID of a SPIFFE ID no client holds, or several do, is refused 401, not taken as anonymous', async () => {
    const stranger = agentWith(await svid(workload('stranger')));
    expectRefused(await kms(stranger, '/v1/transit/encrypt/orders', { plaintext: b64('x') }));
    const twin = agentWith(await svid(workload('twin')));
    expectRefused(await kms(twin, '/v1/transit/encrypt/orders', { plaintext: b64('x') }));
    const reasons = logger.lines
      .filter((l) => l['event'] === 'authentication.refused')
      .map((l) => [l['principal'], l['reason']]);
    expect(reasons).toContainEqual([`spiffe:${workload('stranger')}`, 'no_client']);
    expect(reasons).toContainEqual([`spiffe:${workload('twin')}`, 'several_clients']);
  });

  it("grants only the platform API's scopes: a kms: scope another API defines grants nothing", async () => {
    const other = await admin('/v1/identity/apis', {
      audience: 'https://other.example/api',
      scopes: [{ name: 'kms:encrypt:orders', description: "the other API's own scope of that name" }],
    });
    expect(other.status).toBe(201);
    await client({
      name: 'other-audience',
      scope: 'kms:encrypt:orders',
      audiences: ['https://other.example/api'],
      spiffe_ids: [workload('elsewhere')],
    });
    const agent = agentWith(await svid(workload('elsewhere')));
    const res = await kms(agent, '/v1/transit/encrypt/orders', { plaintext: b64('x') });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_KMS_FORBIDDEN');
  });

  it('a certificate from another CA (same trust domain and SPIFFE ID) is refused 401 on the same connection', async () => {
    const foreign = await meshCa({ trustDomain: td });
    const { keyPem, csrPem } = await newKeyAndCsr();
    const forged = foreign.authority.issueSvid({ csrPem, spiffeId: workload('orders') });
    const agent = agentWith({ chainPem: forged.chainPem, keyPem });
    // Twice on one keep-alive connection: the connection stays open, every call on it is refused.
    for (let i = 0; i < 2; i += 1) {
      expectRefused(await kms(agent, '/v1/transit/encrypt/orders', { plaintext: b64('x') }));
    }
    const refused = logger.lines.filter((l) => l['listener'] === 'kms' && l['reason'] === 'untrusted_chain');
    expect(refused.length).toBeGreaterThan(0);
  });

  it('a revoked SPIFFE ID is refused once the deny list is reloaded, on its open connection too', async () => {
    await client({ name: 'revoked-workload', scope: 'kms:encrypt:orders', spiffe_ids: [workload('revoked')] });
    const material = await svid(workload('revoked'));
    const open = agentWith(material);
    expect((await kms(open, '/v1/transit/encrypt/orders', { plaintext: b64('x') })).status).toBe(200);
    expect((await admin('/v1/ca/revoke', { spiffe_id: workload('revoked') })).status).toBeLessThan(300);
    // The KMS listener reloads the deny list every 10 s: poll (generous bound), on the keep-alive connection.
    let last = 200;
    for (let i = 0; i < 60 && last === 200; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const res = await kms(open, '/v1/transit/encrypt/orders', { plaintext: b64('x') });
      last = res.status;
      if (last !== 200) expectRefused(res);
    }
    expect(last).toBe(401);
    // A new connection with the same certificate is refused too (at the handshake check).
    expectRefused(await kms(agentWith(material), '/v1/transit/encrypt/orders', { plaintext: b64('x') }));
    const reasons = logger.lines.filter((l) => l['event'] === 'authentication.refused').map((l) => l['reason']);
    expect(reasons).toContain('no_longer_valid');
    expect(reasons).toContain('revoked');
  }, 60_000);

  it('the object API on the admin listener takes them too (object:write:invoices only); the admin API does not', async () => {
    const { id } = await client({
      name: 'invoices-workload',
      scope: 'object:write:invoices',
      spiffe_ids: [workload('invoices')],
    });
    const invoices = agentWith(await svid(workload('invoices')));
    const object = async (agent: Agent, method: 'PUT' | 'GET', path: string) => {
      const res = await request(`${running.endpoints.admin}/v1/objects/${path}`, {
        method,
        dispatcher: agent,
        ...(method === 'PUT' ? { headers: { 'content-type': 'application/octet-stream' }, body: 'invoice 7' } : {}),
      });
      const text = await res.body.text();
      return {
        status: res.statusCode,
        headers: res.headers as Record<string, unknown>,
        body: JSON.parse(text) as Json,
      };
    };
    // object:write:invoices covers the bucket's own key, not the KMS key orders
    expect((await object(invoices, 'PUT', 'invoices/7.txt?key_name=orders')).body.code).toBe(
      'ERR_OBJECT_KEY_FORBIDDEN',
    );
    expect((await object(invoices, 'PUT', 'invoices/7.txt')).status).toBe(201);
    expect((await object(invoices, 'GET', 'invoices/7.txt')).body.code).toBe('ERR_ADMIN_FORBIDDEN');
    expect((await object(invoices, 'PUT', 'payroll/7.txt?key_name=orders')).status).toBe(403);
    expect((await object(invoices, 'GET', '')).status).toBe(403); // the bucket list needs admin
    expectRefused(await object(agentWith(await svid(workload('stranger'))), 'PUT', 'invoices/8.txt?key_name=orders'));
    // The admin API itself takes the admin token (or a credential with the admin scope), never a certificate.
    const adminApi = await request(`${running.endpoints.admin}/v1/identity/clients`, { dispatcher: invoices });
    await adminApi.body.text();
    expect(adminApi.statusCode).toBe(401);
    const granted = logger.lines.filter(
      (l) => l['event'] === 'authorization.granted' && l['principal'] === `spiffe:${workload('invoices')}`,
    );
    expect(granted.map((l) => [l['permission'], l['client']])).toEqual([
      ['object:write:invoices', id],
      ['object:write:invoices', id],
    ]);
  });

  it('without a certificate the Bearer / API key path is unchanged; with both, the credential decides', async () => {
    const decryptor = await client({
      name: 'decryptor',
      scope: 'kms:encrypt:orders kms:decrypt:orders',
      audiences: [PLATFORM],
    });
    const token = await accessToken(decryptor.id, decryptor.secret as string);
    const enc = await kms(plain, '/v1/transit/encrypt/orders', { plaintext: b64('hi') }, bearer(token));
    expect(enc.status).toBe(200);
    const ciphertext = enc.body.data.ciphertext as string;
    const none = await kms(plain, '/v1/transit/encrypt/orders', { plaintext: b64('hi') });
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('ERR_KMS_UNAUTHORIZED');
    expect(none.headers['www-authenticate']).toBe('Bearer realm="gatehouse-kms"');

    // The orders SVID alone may not decrypt; with the decryptor's token the token decides.
    const orders = agentWith(await svid(workload('orders')));
    const dec = await kms(orders, '/v1/transit/decrypt/orders', { ciphertext }, bearer(token));
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.data.plaintext, 'base64').toString()).toBe('hi');
    const decCalls = logger.lines.filter((l) => l['operation'] === 'transit.decrypt' && l['result'] === 'ok');
    expect(decCalls.at(-1)?.['principal']).toBe(`client:${decryptor.id}`);
    // An invalid token next to a valid SVID is not rescued by the certificate.
    const bad = await kms(orders, '/v1/transit/encrypt/orders', { plaintext: b64('x') }, bearer('not-a-token'));
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('ERR_KMS_UNAUTHORIZED');
    // A refused certificate next to a valid token: the token decides too.
    const stranger = agentWith(await svid(workload('stranger')));
    expect((await kms(stranger, '/v1/transit/encrypt/orders', { plaintext: b64('x') }, bearer(token))).status).toBe(
      200,
    );
  });
});
