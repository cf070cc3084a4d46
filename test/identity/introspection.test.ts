import { afterEach, describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import {
  basic,
  client,
  ISSUER,
  ORDERS,
  revocationHarness,
  tokenFor,
  type RevocationHarness,
} from './revocation_harness.js';

let h: RevocationHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function configFor(harness: RevocationHarness, c: { clientId: string; secret: string }) {
  return oidc.discovery(new URL(ISSUER), c.clientId, undefined, oidc.ClientSecretBasic(c.secret), {
    [oidc.customFetch]: harness.fetch,
    algorithm: 'oauth2',
  });
}

describe('RFC 7662 introspection with openid-client as the real client', () => {
  it('answers the token own client and a resource server of its aud; strangers get exactly {"active":false}', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const rs = await client(h, 'orders-rs', { audiences: [ORDERS], roles: ['resource-server'] });
    const stranger = await client(h, 'stranger');
    const token = await tokenFor(h, owner);

    const own = await oidc.tokenIntrospection(await configFor(h, owner), token);
    expect(own).toMatchObject({ active: true, client_id: owner.clientId, sub: owner.clientId, aud: ORDERS });
    expect(own.scope).toBe('orders:read');
    expect(typeof own.jti).toBe('string');
    expect(own.iss).toBe(ISSUER);

    const byRs = await oidc.tokenIntrospection(await configFor(h, rs), token);
    expect(byRs.active).toBe(true);

    // The stranger may call the same API (its audiences hold ORDERS) but is no resource server: nothing leaks.
    const raw = await h.post('/oauth2/introspect', { token }, basic(stranger.clientId, stranger.secret));
    expect(raw.status).toBe(200);
    expect(raw.body).toBe('{"active":false}');
    expect(raw.headers['cache-control']).toBe('no-store');
  });

  it('unknown, malformed, expired and revoked tokens are exactly {"active":false}', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const token = await tokenFor(h, owner);
    const auth = basic(owner.clientId, owner.secret);
    const forged = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`; // always another signature
    for (const t of ['nope', forged, 'ghk_' + 'A'.repeat(49), 'a.b.c']) {
      const res = await h.post('/oauth2/introspect', { token: t }, auth);
      expect(res.body).toBe('{"active":false}');
    }
    await oidc.tokenRevocation(await configFor(h, owner), token);
    expect((await h.post('/oauth2/introspect', { token }, auth)).body).toBe('{"active":false}');

    const second = await tokenFor(h, owner);
    expect((await h.post('/oauth2/introspect', { token: second }, auth)).json.active).toBe(true);
    h.clock.advance(16 * 60_000);
    expect((await h.post('/oauth2/introspect', { token: second }, auth)).body).toBe('{"active":false}');
  });

  it("a deleted client's access tokens are inactive to resource servers (its own credentials are gone with it)", async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const rs = await client(h, 'orders-rs', { audiences: [ORDERS], roles: ['resource-server'] });
    const token = await tokenFor(h, owner);
    const auth = basic(rs.clientId, rs.secret);
    expect((await h.post('/oauth2/introspect', { token }, auth)).json.active).toBe(true);
    await h.identity.clients.delete(owner.clientId);
    const after = await h.post('/oauth2/introspect', { token }, auth);
    expect(after.status).toBe(200);
    expect(after.body).toBe('{"active":false}');
  });

  it('errors: no credentials 400 invalid_client, wrong Basic credentials 401 with WWW-Authenticate, missing token 400, wrong content type 400, public clients refused', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const none = await h.post('/oauth2/introspect', { token: 'x' });
    expect(none.status).toBe(400);
    expect(none.json.error).toBe('invalid_client');
    expect(none.headers['www-authenticate']).toBeUndefined();
    const wrong = await h.post('/oauth2/introspect', { token: 'x' }, basic(owner.clientId, 'wrong'));
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_client');
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="gatehouse", charset="UTF-8", error="invalid_client"');
    const missing = await h.post('/oauth2/introspect', {}, basic(owner.clientId, owner.secret));
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
    const json = await h.app.inject({
      method: 'POST',
      url: '/oauth2/introspect',
      headers: { 'content-type': 'application/json', ...basic(owner.clientId, owner.secret) },
      payload: '{"token":"x"}',
    });
    expect(json.statusCode).toBe(400);
    expect(JSON.parse(json.body).error).toBe('invalid_request');
    const big = await h.post('/oauth2/introspect', { token: 'x'.repeat(10_000) }, basic(owner.clientId, owner.secret));
    expect(big.status).toBe(400);
    const pub = await h.post('/oauth2/introspect', { token: 'x', client_id: owner.clientId });
    expect([pub.status, pub.json.error]).toEqual([400, 'invalid_client']);
  });
});

describe('RFC 7009 revocation', () => {
  it('revokes only the caller own tokens; others are answered 200 and left alone', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const other = await client(h, 'other');
    const token = await tokenFor(h, owner);
    const auth = basic(owner.clientId, owner.secret);
    const byOther = await h.post('/oauth2/revoke', { token }, basic(other.clientId, other.secret));
    expect(byOther.status).toBe(200);
    expect((await h.post('/oauth2/introspect', { token }, auth)).json.active).toBe(true);
    await oidc.tokenRevocation(await configFor(h, owner), token, { token_type_hint: 'access_token' });
    expect((await h.post('/oauth2/introspect', { token }, auth)).body).toBe('{"active":false}');
    // unknown and garbage tokens: 200 as well
    expect((await h.post('/oauth2/revoke', { token: 'garbage' }, auth)).status).toBe(200);
    const audit = h.logger.lines.filter((l) => l['event'] === 'token.revoked');
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(token);
  });

  it('errors: missing token 400 invalid_request, bad client 401', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const missing = await h.post('/oauth2/revoke', {}, basic(owner.clientId, owner.secret));
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
    const bad = await h.post('/oauth2/revoke', { token: 'x' }, basic(owner.clientId, 'nope'));
    expect(bad.status).toBe(401);
    expect(bad.json.error).toBe('invalid_client');
  });
});

describe('throttling of the protocol endpoints', () => {
  it('failed client authentication is throttled per client and per source address, and audited without secrets', async () => {
    h = await revocationHarness({
      limits: {
        failedAuthPerClient: { rate: 1, period: '1m', burst: 2 },
        failedAuthPerAddress: { rate: 1, period: '1m', burst: 4 },
      },
    });
    const owner = await client(h, 'owner');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await h.post('/oauth2/introspect', { token: 'x' }, basic(owner.clientId, `wrong-${i}`), '198.51.100.1'))
          .status,
      );
    }
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    // the right secret is refused too while the client is throttled, from any address
    const right = await h.post(
      '/oauth2/introspect',
      { token: 'x' },
      basic(owner.clientId, owner.secret),
      '198.51.100.2',
    );
    expect(right.status).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    // per address: unknown client ids from one address
    const address = '198.51.100.3';
    const codes: number[] = [];
    for (let i = 0; i < 7; i++)
      codes.push((await h.post('/oauth2/revoke', { token: 'x' }, basic(`nobody-${i}`, 's'), address)).status);
    expect(codes.slice(0, 5).every((c) => c === 401)).toBe(true);
    expect(codes.slice(5)).toEqual([429, 429]);
    const failures = h.logger.lines.filter((l) => l['event'] === 'client.auth_failed');
    expect(failures.length).toBeGreaterThanOrEqual(8);
    expect(JSON.stringify(failures)).not.toContain('wrong-');
    h.clock.advance(60_000);
    expect(
      (await h.post('/oauth2/introspect', { token: 'x' }, basic(owner.clientId, owner.secret), '198.51.100.2')).status,
    ).toBe(200);
  });

  it('introspection and revocation floods are bounded per address (identity.limits.introspectionRequestsPerAddress)', async () => {
    h = await revocationHarness({ limits: { introspectionRequestsPerAddress: { rate: 1, period: '1m', burst: 3 } } });
    const owner = await client(h, 'owner');
    const auth = basic(owner.clientId, owner.secret);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++)
      codes.push((await h.post('/oauth2/introspect', { token: 'x' }, auth, '192.0.2.7')).status);
    expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
    // the token endpoint has its own budget
    expect((await h.post('/oauth2/token', { grant_type: 'client_credentials' }, auth, '192.0.2.7')).status).toBe(200);
    // another address is not affected
    expect((await h.post('/oauth2/introspect', { token: 'x' }, auth, '192.0.2.8')).status).toBe(200);
    const revokes: number[] = [];
    for (let i = 0; i < 6; i++)
      revokes.push((await h.post('/oauth2/revoke', { token: 'x' }, auth, '192.0.2.9')).status);
    expect(revokes).toEqual([200, 200, 200, 200, 429, 429]);
  });
});

describe('audit lines', () => {
  it('failed client authentication at the token endpoint, token revocation and signing key rotation are audited without secrets', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const failed = await h.post(
      '/oauth2/token',
      { grant_type: 'client_credentials' },
      basic(owner.clientId, 'guess-1'),
    );
    expect(failed.status).toBe(401);
    const token = await tokenFor(h, owner);
    await h.post('/oauth2/revoke', { token }, basic(owner.clientId, owner.secret));
    await h.identity.signingKeys.rotate();
    const lines = h.logger.lines;
    const authFailed = lines.find((l) => l['event'] === 'client.auth_failed' && l['endpoint'] === 'token');
    expect(authFailed).toMatchObject({ audit: true, clientId: owner.clientId, address: '203.0.113.10' });
    expect(lines.find((l) => l['event'] === 'token.revoked')).toMatchObject({ audit: true, clientId: owner.clientId });
    expect(lines.find((l) => l['event'] === 'signing_key.rotated')).toMatchObject({ audit: true });
    const text = JSON.stringify(lines);
    for (const secret of ['guess-1', owner.secret, token]) expect(text).not.toContain(secret);
  });
});
