import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpCaClient } from '../../src/app/mesh_http_ca_client.js';
import { isGatehouseError } from '../../src/core/index.js';
import type { SvidMaterial } from '../../src/mesh/index.js';
import { TRUST_DOMAIN } from '../pki/helpers.js';
import { caHarness, type CaHarness } from './harness.js';

const id = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/prod/sa/${sa}`;
const LIFTED = { rate: 1_000_000, period: '1s', burst: 1_000_000 };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A request to the CA listener from the loopback address `from` (each test its own, so budgets do not mix). */
async function call(h: CaHarness, method: 'GET' | 'POST', path: string, from: string, json?: unknown): Promise<Answer> {
  const agent = new Agent({ localAddress: from, connect: { ca: h.authority.trustBundlePem(), minVersion: 'TLSv1.3' } });
  try {
    const res = await request(`${h.url}${path}`, {
      method,
      dispatcher: agent,
      ...(json === undefined ? {} : { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.body.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // PEM
    }
    return { status: res.statusCode, headers: res.headers, body };
  } finally {
    await agent.close();
  }
}

function expectRateLimited(answer: Answer): number {
  expect(answer.status).toBe(429);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status: 429, code: 'ERR_PKI_RATE_LIMITED' });
  const retry = answer.headers['retry-after'];
  expect(retry).toMatch(/^\d+$/);
  expect(Number(retry)).toBeGreaterThanOrEqual(1);
  return Number(retry);
}

describe('CA limits: enrollments per address (pki.limits.signPerAddress)', () => {
  let h: CaHarness;
  beforeAll(async () => {
    h = await caHarness({ pki: { limits: { signPerAddress: { rate: 1, period: '1m', burst: 1 } } } });
  });
  afterAll(async () => h?.close());

  it('answers 429 ERR_PKI_RATE_LIMITED with Retry-After past the budget; the token is kept, other addresses and the GETs are unaffected', async () => {
    const csr = await h.csr('sign');
    const token = async (sa: string) => (await h.ca.enrollment.createJoinToken(id(sa), 600_000)).token;
    expect((await call(h, 'POST', '/v1/ca/sign', '127.0.0.2', { csr, join_token: await token('a') })).status).toBe(200);
    expect((await call(h, 'POST', '/v1/ca/sign', '127.0.0.2', { csr, join_token: await token('b') })).status).toBe(200);
    const kept = await token('c');
    const over = await call(h, 'POST', '/v1/ca/sign', '127.0.0.2', { csr, join_token: kept });
    const retry = expectRateLimited(over);
    expect(retry).toBeLessThanOrEqual(60);
    expect(h.lines('CA sign refused').at(-1)).toMatchObject({
      code: 'ERR_PKI_RATE_LIMITED',
      reason: 'limit sign_per_address',
      remote: '127.0.0.2',
    });
    expect(h.metricsText()).toMatch(
      /gatehouse_http_requests_total\{[^}]*route="\/v1\/ca\/sign"[^}]*status="429"[^}]*\} 1/,
    );

    // Bundle and deny list are not limited.
    for (const path of ['/v1/ca/bundle.pem', '/v1/ca/bundle.json', '/v1/ca/denylist']) {
      expect((await call(h, 'GET', path, '127.0.0.2')).status).toBe(200);
    }
    // Another address has its own budget, and the refused request did not use the token up.
    const elsewhere = await call(h, 'POST', '/v1/ca/sign', '127.0.0.3', { csr, join_token: kept });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body['spiffe_id']).toBe(id('c'));

    // Once Retry-After has passed (the CA's clock), the address enrolls again.
    h.f.clock.advance(retry * 1000);
    expect((await call(h, 'POST', '/v1/ca/sign', '127.0.0.2', { csr, join_token: await token('d') })).status).toBe(200);
  });
});

describe('CA limits: refused bootstrap credentials per address (pki.limits.failedBootstrapPerAddress)', () => {
  let h: CaHarness;
  beforeAll(async () => {
    h = await caHarness({
      pki: { limits: { signPerAddress: LIFTED, failedBootstrapPerAddress: { rate: 1, period: '1m', burst: 2 } } },
    });
  });
  afterAll(async () => h?.close());

  it('refuses every enrollment from an address that spent its failures, before the token is looked up', async () => {
    const csr = await h.csr('guess');
    const good = (await h.ca.enrollment.createJoinToken(id('good'), 600_000)).token;
    const from = '127.0.0.4';
    const guessed = await call(h, 'POST', '/v1/ca/sign', from, { csr, join_token: 'guessed-1' });
    expect(guessed.body['code']).toBe('ERR_PKI_JOIN_TOKEN_INVALID');
    expect((await call(h, 'POST', '/v1/ca/sign', from, { csr, join_token: 'guessed-2' })).status).toBe(401);
    const none = await call(h, 'POST', '/v1/ca/sign', from, { csr, spiffe_id: id('good') });
    expect(none.body['code']).toBe('ERR_PKI_UNAUTHENTICATED');
    const refused = await call(h, 'POST', '/v1/ca/sign', from, { csr, join_token: good });
    expect(expectRateLimited(refused)).toBe(60);
    expect(h.lines('CA sign refused').at(-1)).toMatchObject({ reason: 'limit failed_bootstrap_per_address' });
    // Another address still gets the honest answer.
    expect((await call(h, 'POST', '/v1/ca/sign', '127.0.0.5', { csr, join_token: 'guessed-3' })).status).toBe(401);

    h.f.clock.advance(60_000);
    const later = await call(h, 'POST', '/v1/ca/sign', from, { csr, join_token: good });
    expect(later.status).toBe(200);
    expect(later.body['spiffe_id']).toBe(id('good'));
  });
});

describe('CA limits: renewals per SPIFFE ID and per address', () => {
  let h: CaHarness;
  const clients: HttpCaClient[] = [];
  beforeAll(async () => {
    h = await caHarness({
      pki: {
        limits: {
          renewPerSpiffeId: { rate: 1, period: '1m', burst: 1 },
          renewPerAddress: { rate: 1, period: '1m', burst: 3 },
        },
      },
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => h?.close());

  /** An SVID for `sa` straight from the authority, as the material a workload holds. */
  async function held(sa: string): Promise<SvidMaterial> {
    const svid = h.authority.issueSvid({ csrPem: await h.csr(sa), spiffeId: id(sa) });
    const keyPem = await readFile(join(h.dir, `${sa}.key`), 'utf8');
    return { ...svid, keyPem, issuedAt: svid.notBefore, generation: 1 };
  }

  async function renew(client: HttpCaClient, current: SvidMaterial, name: string): Promise<unknown> {
    return client.renew(await h.csr(name), current).catch((err: unknown) => err);
  }

  it('refuses a renew loop of one identity, then the address; the client gets the code and Retry-After and succeeds later', async () => {
    const client = new HttpCaClient({ url: h.url, bundlePem: h.authority.trustBundlePem() });
    clients.push(client);
    const a = await held('a');
    const b = await held('b');
    expect(await renew(client, a, 'a1')).toMatchObject({ spiffeId: id('a') });
    expect(await renew(client, a, 'a2')).toMatchObject({ spiffeId: id('a') });
    const loop = await renew(client, a, 'a3');
    expect(isGatehouseError(loop, 'ERR_PKI_RATE_LIMITED')).toBe(true);
    const retryAfterSeconds = (loop as { retryAfterSeconds?: number }).retryAfterSeconds;
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(h.lines('CA renew refused').at(-1)).toMatchObject({ reason: 'limit renew_per_spiffe_id' });
    // Another identity renews (its own budget) until the address budget (4 at once) is spent too.
    expect(await renew(client, b, 'b1')).toMatchObject({ spiffeId: id('b') });
    const address = await renew(client, b, 'b2');
    expect(isGatehouseError(address, 'ERR_PKI_RATE_LIMITED')).toBe(true);
    expect(h.lines('CA renew refused').at(-1)).toMatchObject({ reason: 'limit renew_per_address' });

    h.f.clock.advance(60_000);
    expect(await renew(client, a, 'a4')).toMatchObject({ spiffeId: id('a') });
  });
});
