import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { ManualClock, type RecordStore } from '../../src/core/index.js';
import { APIS_COLLECTION, INVALID_CLIENT_CHALLENGE } from '../../src/identity/index.js';
import { basic, ccClient, identityHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const CC = 'grant_type=client_credentials';

describe('token endpoint: bad input gets the exact RFC error', () => {
  it.each([
    ['wrong content type', CC, { 'content-type': 'application/json' }, 400, 'invalid_request'],
    ['missing grant_type', 'scope=orders:read', {}, 400, 'invalid_request'],
    ['repeated grant_type', `${CC}&${CC}`, {}, 400, 'invalid_request'],
    ['repeated scope', `${CC}&scope=a&scope=b`, {}, 400, 'invalid_request'],
    ['unknown grant type', 'grant_type=password', {}, 400, 'unsupported_grant_type'],
    ['malformed Basic header', CC, { authorization: 'Basic !!!' }, 400, 'invalid_request'],
    [
      'Basic without colon',
      CC,
      { authorization: `Basic ${Buffer.from('abc').toString('base64')}` },
      400,
      'invalid_request',
    ],
    ['other auth scheme', CC, { authorization: 'Bearer abc' }, 401, 'invalid_client'],
    ['no credentials', CC, {}, 400, 'invalid_client'],
    ['unknown client', CC, { authorization: basic('nobody', 'x') }, 401, 'invalid_client'],
    ['oversized body', `${CC}&pad=${'x'.repeat(9000)}`, {}, 400, 'invalid_request'],
    [
      'too many parameters',
      `${CC}${'&p=1'.repeat(1)}${Array.from({ length: 40 }, (_, i) => `&k${i}=v`).join('')}`,
      {},
      400,
      'invalid_request',
    ],
  ])('%s', async (_name, body, headers, status, error) => {
    h = await identityHarness();
    const res = await h.token(body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.json.error).toBe(error);
    expect(JSON.stringify(res.json)).not.toMatch(/at .*\.(ts|js):\d+/);
    // a challenge exactly when the client used the Authorization header (RFC 6749 §5.2)
    if (status === 401) expect(res.headers['www-authenticate']).toBe(INVALID_CLIENT_CHALLENGE);
    else expect(res.headers['www-authenticate']).toBeUndefined();
  });

  it('answers wrong secret, both auth methods at once and grants the client lacks precisely', async () => {
    h = await identityHarness();
    const c = await ccClient(h);
    expect((await h.token(CC, { authorization: basic(c.clientId, 'ghcs_wrong') })).json.error).toBe('invalid_client');
    const both = await h.token(`${CC}&client_secret=${c.secret}`, { authorization: basic(c.clientId, c.secret) });
    expect([both.status, both.json.error]).toEqual([400, 'invalid_request']);
    const post = await h.token(`${CC}&client_id=${c.clientId}&client_secret=${c.secret}`);
    expect([post.status, post.json.error]).toEqual([400, 'invalid_client']); // registered for basic only
    expect(post.headers['www-authenticate']).toBeUndefined();
    const ac = await h.token('grant_type=authorization_code&code=x', { authorization: basic(c.clientId, c.secret) });
    expect(ac.json.error).toBe('unauthorized_client'); // served since the code grant landed; not this client's
  });

  it('checks scopes as a subset of the client and the API, and resource against the audiences', async () => {
    h = await identityHarness();
    await h.identity.apis.create('https://other.test.example', [{ name: 'other:x', description: 'x' }]);
    const c = await ccClient(h, { scopes: ['orders:read'] });
    const auth = { authorization: basic(c.clientId, c.secret) };
    const ok = await h.token(`${CC}&scope=orders:read`, auth);
    expect(ok.status).toBe(200);
    expect(ok.json.scope).toBe('orders:read');
    const claims = JSON.parse(
      Buffer.from(String(ok.json.access_token).split('.')[1] as string, 'base64url').toString(),
    );
    expect(claims.aud).toBe(c.audience);
    expect((await h.token(`${CC}&scope=orders:write`, auth)).json.error).toBe('invalid_scope');
    expect((await h.token(`${CC}&scope=other:x`, auth)).json.error).toBe('invalid_scope');
    expect((await h.token(`${CC}&resource=https://other.test.example`, auth)).json.error).toBe('invalid_target');
    expect((await h.token(`${CC}&resource=not-a-uri`, auth)).json.error).toBe('invalid_target');
    expect((await h.token(`${CC}&resource=${c.audience}&resource=${c.audience}`, auth)).json.error).toBe(
      'invalid_target',
    );
    const explicit = await h.token(`${CC}&resource=${encodeURIComponent(c.audience)}`, auth);
    expect(explicit.status).toBe(200);
  });

  it('refuses unauthorized_client when the grant is not registered for the client', async () => {
    h = await identityHarness();
    await ccClient(h);
    const { client, secret } = await h.identity.clients.create({
      name: 'web',
      grantTypes: ['authorization_code'],
      scopes: ['orders:read'],
      redirectUris: ['https://app.test.example/cb'],
    });
    const res = await h.token(CC, { authorization: basic(client.clientId, secret ?? '') });
    expect([res.status, res.json.error]).toEqual([400, 'unauthorized_client']);
  });
});

describe('client secret rotation overlap', () => {
  it('keeps the old secret valid until the overlap ends (exclusive), the new one at once', async () => {
    h = await identityHarness({ clientCacheTtl: '1ms' });
    const c = await ccClient(h);
    const rotated = await h.identity.clients.rotateSecret(c.clientId, 60_000);
    const tryWith = async (secret: string) =>
      (
        await h!.token(
          CC,
          { authorization: basic(c.clientId, secret) },
          `198.51.100.${Math.floor(Math.random() * 200)}`,
        )
      ).status;
    expect(await tryWith(rotated.secret)).toBe(200);
    expect(await tryWith(c.secret)).toBe(200);
    h.clock.advance(59_999);
    expect(await tryWith(c.secret)).toBe(200);
    h.clock.advance(1);
    expect(await tryWith(c.secret)).toBe(401);
    expect(await tryWith(rotated.secret)).toBe(200);
  });
});

describe('client secret rotation overlap bound', () => {
  it('refuses an overlap over 30 days (as for API keys), and leaves the secret as it was', async () => {
    h = await identityHarness();
    const c = await ccClient(h);
    await expect(h.identity.clients.rotateSecret(c.clientId, 31 * 86_400_000)).rejects.toMatchObject({
      code: 'ERR_IDENTITY_CLIENT_INVALID',
      message: expect.stringMatching(/between 0 and 30d/),
    });
    expect((await h.token(CC, { authorization: basic(c.clientId, c.secret) })).status).toBe(200);
    await expect(h.identity.clients.rotateSecret(c.clientId, 30 * 86_400_000)).resolves.toBeDefined();
  });
});

describe('throttling of failed client authentication', () => {
  it('per client: after the budget, even the right secret waits (429, Retry-After)', async () => {
    h = await identityHarness({ limits: { failedAuthPerClient: { rate: 3, period: '1m', burst: 2 } } });
    const c = await ccClient(h);
    for (let i = 0; i < 3; i++) {
      const addr = `198.51.100.${i + 1}`;
      expect((await h.token(CC, { authorization: basic(c.clientId, 'bad') }, addr)).status).toBe(401);
    }
    const blocked = await h.token(CC, { authorization: basic(c.clientId, c.secret) }, '198.51.100.9');
    expect(blocked.status).toBe(429);
    expect(blocked.json.error).toBe('temporarily_unavailable');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    h.clock.advance(20_000);
    expect((await h.token(CC, { authorization: basic(c.clientId, c.secret) }, '198.51.100.9')).status).toBe(200);
  });

  it('per address: failures for many clients from one address block that address only', async () => {
    h = await identityHarness({ limits: { failedAuthPerAddress: { rate: 2, period: '1m', burst: 1 } } });
    const c = await ccClient(h);
    for (let i = 0; i < 2; i++) {
      expect((await h.token(CC, { authorization: basic(`guess${i}`, 'x') }, '192.0.2.7')).status).toBe(401);
    }
    expect((await h.token(CC, { authorization: basic(c.clientId, c.secret) }, '192.0.2.7')).status).toBe(429);
    expect((await h.token(CC, { authorization: basic(c.clientId, c.secret) }, '192.0.2.8')).status).toBe(200);
  });
});

describe('metadata and JWKS', () => {
  it('lists grant types, auth methods, PKCE, introspection and revocation, and never the token response type', async () => {
    h = await identityHarness();
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await h.app.inject({ method: 'GET', url: path });
      const doc = res.json();
      expect(doc.issuer).toBe('https://id.test.example');
      expect(doc.grant_types_supported).toEqual([
        'client_credentials',
        'authorization_code',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
      ]);
      expect(doc.device_authorization_endpoint).toBe('https://id.test.example/oauth2/device_authorization');
      expect(doc.response_types_supported).not.toContain('token');
      expect(doc.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']),
      );
      expect(doc.code_challenge_methods_supported).toEqual(['S256']);
      expect(doc.introspection_endpoint).toMatch(/^https:\/\/id\.test\.example\//);
      expect(doc.revocation_endpoint).toMatch(/^https:\/\/id\.test\.example\//);
      expect(doc.jwks_uri).toBe('https://id.test.example/.well-known/jwks.json');
      // RFC 8414 §2: an endpoint listing private_key_jwt MUST list the assertion algorithms it accepts
      for (const endpoint of ['token', 'introspection', 'revocation']) {
        expect(doc[`${endpoint}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
        expect(doc[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual(['ES256', 'EdDSA', 'RS256']);
      }
    }
    const jwks = await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    // One key set per algorithm: ES256 signs access tokens, RS256 (and ES256) sign ID tokens (OpenID Discovery).
    const keys = jwks.json().keys as Array<Record<string, unknown>>;
    expect(keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(keys.find((k) => k.alg === 'ES256')).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig' });
    expect(keys.find((k) => k.alg === 'RS256')).toMatchObject({ kty: 'RSA', use: 'sig' });
    for (const key of keys) for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key[priv]).toBeUndefined();
    const maxAge = Number(/max-age=(\d+)/.exec(String(jwks.headers['cache-control']))?.[1]);
    expect(maxAge).toBeLessThanOrEqual(3600 / 2);
  });

  it("scopes_supported lists the registered APIs' scope names, from the API catalog (no store read per request)", async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const inner = new MemoryRecordStore({ clock });
    let apiReads = 0;
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'list') {
          return (collection: string, options?: Parameters<RecordStore['list']>[1]) => {
            if (collection === APIS_COLLECTION) apiReads += 1;
            return target.list(collection, options);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    h = await identityHarness({}, { store, clock });
    await h.identity.apis.create('https://orders.test.example', [
      { name: 'orders:read', description: 'See orders' },
      { name: 'orders:write', description: 'Place orders' },
    ]);
    await h.identity.apis.create('https://billing.test.example', [
      { name: 'invoices:read', description: 'See invoices' },
      { name: 'orders:read', description: 'See the orders billed' },
    ]);
    const scopesOf = async (path = '/.well-known/oauth-authorization-server') =>
      (await h!.app.inject({ method: 'GET', url: path })).json().scopes_supported as string[];
    const scopes = await scopesOf();
    expect(scopes).toEqual(
      expect.arrayContaining(['openid', 'offline_access', 'invoices:read', 'orders:read', 'orders:write']),
    );
    expect(scopes.filter((s) => s === 'orders:read')).toHaveLength(1);
    const reads = apiReads;
    for (let i = 0; i < 5; i++) expect(await scopesOf('/.well-known/openid-configuration')).toEqual(scopes);
    expect(apiReads).toBe(reads);
    await h.identity.apis.delete('https://billing.test.example');
    expect(await scopesOf()).not.toContain('invoices:read');
  });
});
