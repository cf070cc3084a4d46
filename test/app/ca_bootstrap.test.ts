import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import type { RunningGatehouse } from '../../src/app/index.js';
import { createCsr } from '../../src/pki/index.js';
import { trustingAgent, callJson, type CallInit } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { clientCredentialsToken, startTestGatehouse } from '../support/up.js';

const ORDERS = 'spiffe://gatehouse.local/ns/demo/sa/orders';
const PLATFORM = 'urn:gatehouse:platform';
const tmp = tempDir();
let running: RunningGatehouse;
let agent: Agent;
let adminToken: string;

const call = (url: string, init: CallInit = {}) => callJson(agent, url, init);

const admin = (path: string, json: unknown) =>
  call(`${running.endpoints.admin}${path}`, { headers: { authorization: `Bearer ${adminToken}` }, json });
const csr = () => createCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const sign = (json: unknown, token?: string) =>
  call(`${running.endpoints.ca}/v1/ca/sign`, {
    json,
    ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
  });

async function createClient(body: Record<string, unknown>): Promise<{ id: string; secret: string; basic: string }> {
  const res = await admin('/v1/identity/clients', { grant_types: ['client_credentials'], ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = res.body.client_id as string;
  const secret = res.body.client_secret as string;
  return { id, secret, basic: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` };
}

const token = (basic: string) => clientCredentialsToken(agent, running.endpoints.identity, basic, PLATFORM);

beforeAll(async () => {
  ({ running, adminToken } = await startTestGatehouse({ dataDir: tmp.dir, demoMesh: true }));
  agent = trustingAgent(running.endpoints.trustBundle);
  const api = await admin('/v1/identity/apis', {
    audience: PLATFORM,
    scopes: [{ name: 'ca:enroll', description: 'enroll at the CA' }],
  });
  expect(api.status, JSON.stringify(api.body)).toBe(201);
});

afterAll(async () => {
  await running?.stop();
  await agent?.close();
  tmp.remove();
});

describe('CA enrollment with an access token (gatehouse up)', () => {
  it('signs a CSR for a SPIFFE ID the client holds, refuses others, revoked tokens and no token', async () => {
    const orders = await createClient({ name: 'orders', scope: 'ca:enroll', spiffe_ids: [ORDERS] });
    expect((await admin(`/v1/identity/clients/${orders.id}`, undefined)).status).toBe(200);
    const at = await token(orders.basic);

    const signed = await sign({ csr: csr(), spiffe_id: ORDERS }, at);
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body.spiffe_id).toBe(ORDERS);
    const pem = String(signed.body.certificate_chain);
    const leaf = new X509Certificate(pem);
    expect(leaf.subjectAltName).toContain(`URI:${ORDERS}`);

    const other = await sign({ csr: csr(), spiffe_id: 'spiffe://gatehouse.local/ns/demo/sa/billing' }, at);
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('ERR_PKI_FORBIDDEN');

    const none = await sign({ csr: csr(), spiffe_id: ORDERS });
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('ERR_PKI_UNAUTHENTICATED');

    const revoked = await call(`${running.endpoints.identity}/oauth2/revoke`, {
      headers: { authorization: orders.basic },
      form: `token=${at}`,
    });
    expect(revoked.status).toBe(200);
    const afterRevoke = await sign({ csr: csr(), spiffe_id: ORDERS }, at);
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.code).toBe('ERR_PKI_UNAUTHENTICATED');
  });

  it('refuses a client without SPIFFE IDs and a token that is not ours', async () => {
    const plain = await createClient({ name: 'plain', scope: 'ca:enroll' });
    const denied = await sign({ csr: csr(), spiffe_id: ORDERS }, await token(plain.basic));
    expect(denied.status).toBe(403);
    const forged = await sign({ csr: csr(), spiffe_id: ORDERS }, 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln');
    expect(forged.status).toBe(401);
  });

  it('validates spiffe_ids at registration: our trust domain, workload shape, client_credentials', async () => {
    for (const spiffe_ids of [
      ['spiffe://elsewhere.org/ns/demo/sa/orders'],
      ['spiffe://gatehouse.local/gatehouse/ca'],
      ['spiffe://gatehouse.local/ns/demo/sa/../x'],
      [ORDERS, ORDERS],
    ]) {
      const res = await admin('/v1/identity/clients', { name: 'bad', grant_types: ['client_credentials'], spiffe_ids });
      expect(res.status, JSON.stringify(spiffe_ids)).toBe(400);
      expect(res.body.code).toBe('ERR_IDENTITY_CLIENT_INVALID');
    }
    const noGrant = await admin('/v1/identity/clients', {
      name: 'web',
      grant_types: ['authorization_code'],
      redirect_uris: ['https://app.example/cb'],
      spiffe_ids: [ORDERS],
    });
    expect(noGrant.status).toBe(400);
  });
});
