import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComponentProcess } from '../support/cli.js';
import { identityReplicas } from '../support/replicas.js';

interface Credentials {
  clientId: string;
  secret: string;
}

// Two `gatehouse identity` processes on one PostgreSQL schema and one Redis prefix, initialized once by `gatehouse up`.
describe('gatehouse identity replicas on PostgreSQL + Redis', { timeout: 180_000 }, () => {
  const set = identityReplicas('gh-replicas-');
  let agent: Agent;
  let billing: Credentials;
  let guessed: Credentials;
  let a: ComponentProcess;
  let b: ComponentProcess;

  const form = async (url: string, body: string, who: Credentials, secret = who.secret) => {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${who.clientId}:${secret}`).toString('base64')}`,
      },
      body,
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const token = (at: ComponentProcess, who: Credentials, secret?: string) =>
    form(`${at.url}/oauth2/token`, 'grant_type=client_credentials', who, secret);
  const introspect = async (at: ComponentProcess, jwt: string) =>
    (await form(`${at.url}/oauth2/introspect`, `token=${jwt}`, billing)).body['active'];

  beforeAll(async () => {
    // `gatehouse up` initializes the schema once and registers the clients through its admin API, then stops.
    const { cli, createClient } = await set.initialize({
      // Replicas behind one name: the issuer (`iss`) every replica issues and accepts.
      issuer: 'https://identity.replicas.test',
      limits: { failedAuthPerClient: { rate: 1, period: '1h', burst: 3 } },
    });
    const api = await cli(['api', 'create', '--audience', 'https://orders.test', '--scope', 'orders:read=read']);
    expect(api.code, api.stderr).toBe(0);
    const client = (name: string) =>
      createClient(['--name', name, '--grant', 'client_credentials', '--scope', 'orders:read']);
    billing = await client('billing');
    guessed = await client('guessed');

    // The replicas have no data directory of their own: storage, leases and the root key come from elsewhere.
    const started = await set.start(2);
    agent = started.agent;
    [a, b] = started.replicas as [ComponentProcess, ComponentProcess];
  });

  afterAll(() => set.stop());

  it('serves one client from both replicas, with one JWKS, and a revocation at one is refused at the other', async () => {
    expect(a.url).not.toBe(b.url);
    const fromA = await token(a, billing);
    const fromB = await token(b, billing);
    expect(fromA.status, JSON.stringify(fromA.body)).toBe(200);
    expect(fromB.status, JSON.stringify(fromB.body)).toBe(200);

    const jwks = async (at: ComponentProcess) =>
      (await request(`${at.url}/.well-known/jwks.json`, { dispatcher: agent })).body.json();
    const [jwksA, jwksB] = [await jwks(a), await jwks(b)];
    expect((jwksA as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    expect(jwksB).toEqual(jwksA);

    const jwtA = fromA.body['access_token'] as string;
    const jwtB = fromB.body['access_token'] as string;
    expect(await introspect(b, jwtA)).toBe(true);
    expect(await introspect(a, jwtB)).toBe(true);

    const revoked = await form(`${a.url}/oauth2/revoke`, `token=${jwtA}`, billing);
    expect(revoked.status).toBe(200);
    expect(await introspect(a, jwtA)).toBe(false);
    let atB: unknown = true;
    for (let i = 0; i < 100 && atB !== false; i += 1) {
      atB = await introspect(b, jwtA);
      if (atB !== false) await new Promise((r) => setTimeout(r, 100));
    }
    expect(atB).toBe(false);
    expect(await introspect(b, jwtB)).toBe(true); // only the revoked token
  });

  it('counts failed client authentications in Redis: failures spread over both replicas reach the shared limit', async () => {
    // burst 3: the 4th failure empties the per-client budget, whichever replica saw the others.
    for (const at of [a, b, a, b]) {
      const failed = await token(at, guessed, 'ghcs_wrong');
      expect(failed.status).toBe(401);
      expect(failed.body['error']).toBe('invalid_client');
    }
    for (const at of [a, b]) {
      const refused = await token(at, guessed); // the right secret, but the budget is spent
      expect(refused.status).toBe(429);
      expect(refused.body['error']).toBe('temporarily_unavailable');
    }
    expect((await token(a, billing)).status).toBe(200); // another client is not affected
  });
});
