import { afterEach, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createVerifier } from '../../../src/resource/index.js';
import { AUDIENCE, ISSUER, REDIRECT, peopleHarness, seed, type PeopleHarness } from '../people/harness.js';
import { codeFlow, discover, headerOf, leftHalfSha256, verifyWithOurJwks } from './rp.js';

let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('OpenID Connect with openid-client 6 as the relying party', () => {
  it('discovery publishes the OpenID Connect fields', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const meta = (await discover(h, clientId)).serverMetadata();
    expect(meta.userinfo_endpoint).toBe(`${ISSUER}/userinfo`);
    expect(meta.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);
    expect(meta.subject_types_supported).toEqual(['public']);
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'roles', 'offline_access']));
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['sub', 'auth_time', 'nonce', 'preferred_username']));
    const algs = (JSON.parse(h.identity.signingKeys.jwksJson()) as { keys: Array<{ alg: string }> }).keys.map(
      (k) => k.alg,
    );
    expect(algs).toEqual(expect.arrayContaining(['ES256', 'RS256']));
  });

  it('code + PKCE with openid profile: an RS256 ID token (nonce, at_hash, auth_time), userinfo, refresh', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const config = await discover(h, clientId);
    const { tokens, nonce } = await codeFlow(h, config, 'openid profile roles orders:read offline_access');
    const idToken = tokens.id_token as string;
    expect(headerOf(idToken)).toMatchObject({
      alg: 'RS256',
      typ: 'JWT',
      kid: h.identity.signingKeys.signer('RS256').kid,
    });
    const claims = tokens.claims();
    expect(claims).toMatchObject({ iss: ISSUER, sub: 'ada', aud: clientId, nonce, preferred_username: 'ada' });
    expect(claims?.roles).toEqual(['admin']);
    expect(claims?.at_hash).toBe(leftHalfSha256(tokens.access_token));
    expect(typeof claims?.auth_time).toBe('number');
    const verified = await verifyWithOurJwks(h, idToken, clientId);
    expect(verified.nonce).toBe(nonce);

    const info = await client.fetchUserInfo(config, tokens.access_token, 'ada');
    expect(info).toEqual({ sub: 'ada', preferred_username: 'ada', roles: ['admin'] });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.id_token).toBeDefined();
    expect(refreshed.id_token).not.toBe(idToken);
    const again = await verifyWithOurJwks(h, refreshed.id_token as string, clientId);
    expect(again.sub).toBe('ada');
    expect(again.auth_time).toBe(claims?.auth_time);
    expect(again.at_hash).toBe(leftHalfSha256(refreshed.access_token));
  });

  it('a client registered with id_token_signed_response_alg ES256 gets ES256 ID tokens', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, { idTokenSignedResponseAlg: 'ES256' });
    const config = await discover(h, clientId, { id_token_signed_response_alg: 'ES256' });
    const { tokens } = await codeFlow(h, config, 'openid orders:read');
    expect(headerOf(tokens.id_token as string)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    await verifyWithOurJwks(h, tokens.id_token as string, clientId);
    expect(tokens.claims()?.preferred_username).toBeUndefined();
    await expect(
      h.identity.clients.create({
        name: 'bad',
        public: true,
        grantTypes: ['authorization_code'],
        scopes: ['orders:read'],
        redirectUris: [REDIRECT],
        idTokenSignedResponseAlg: 'HS256' as 'ES256',
      }),
    ).rejects.toMatchObject({ code: 'ERR_IDENTITY_CLIENT_INVALID' });
  });

  it('no ID token without openid; userinfo refuses no token (401), a token without openid (403), an ID token (401)', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const config = await discover(h, clientId);
    // openid-client expects an ID token from an OpenID Provider: the plain OAuth flow uses RFC 8414 discovery.
    const { tokens } = await codeFlow(h, await discover(h, clientId, {}, 'oauth2'), 'orders:read');
    expect(tokens.id_token).toBeUndefined();
    const ask = (headers: Record<string, string>) => h!.app.inject({ method: 'GET', url: '/userinfo', headers });
    const none = await ask({});
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const lacking = await ask({ authorization: `Bearer ${tokens.access_token}` });
    expect(lacking.statusCode).toBe(403);
    expect(lacking.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(lacking.headers['www-authenticate']).toContain('scope="openid"');
    const oidc = await codeFlow(h, config, 'openid');
    const byIdToken = await ask({ authorization: `Bearer ${oidc.tokens.id_token as string}` });
    expect(byIdToken.statusCode).toBe(401);
    expect(byIdToken.headers['www-authenticate']).toContain('error="invalid_token"');
    const post = await h.app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${oidc.tokens.access_token}`,
    });
    expect(post.statusCode).toBe(200);
    expect(JSON.parse(post.body)).toEqual({ sub: 'ada' });
  });

  it('userinfo refuses a certificate-bound access token (RFC 8705 §3: it never sees the certificate)', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const { tokens } = await codeFlow(h, await discover(h, clientId), 'openid profile offline_access');
    const ask = (token: string) =>
      h!.app.inject({ method: 'GET', url: '/userinfo', headers: { authorization: `Bearer ${token}` } });
    expect((await ask(tokens.access_token)).statusCode).toBe(200);
    // the refresh a client makes on the mTLS listener with its certificate binds the new access token to it
    const refreshed = await h.identity.token.handle({
      contentType: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: clientId,
        refresh_token: tokens.refresh_token as string,
      }).toString(),
      authorization: undefined,
      address: '203.0.113.10',
      certificate: { thumbprint: 'A'.repeat(43), sanUri: 'spiffe://gatehouse.test/ns/demo/sa/app' },
    });
    expect(refreshed.status).toBe(200);
    const bound = JSON.parse(refreshed.body).access_token as string;
    const claims = JSON.parse(Buffer.from(bound.split('.')[1] as string, 'base64url').toString());
    expect(claims.cnf).toEqual({ 'x5t#S256': 'A'.repeat(43) });
    expect(claims.scope).toContain('openid');
    const refused = await ask(bound);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('the resource verifier refuses an ID token presented as an access token', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const config = await discover(h, clientId);
    const { tokens } = await codeFlow(h, config, 'openid orders:read');
    const keys = (JSON.parse(h.identity.signingKeys.jwksJson()) as { keys: unknown[] }).keys;
    for (const audience of [AUDIENCE, clientId]) {
      const verifier = createVerifier({ issuer: ISSUER, audience, jwks: { keys }, revocation: { mode: 'off' } });
      await verifier.start();
      try {
        await expect(verifier.verifyToken(tokens.id_token as string)).rejects.toMatchObject({
          code: 'ERR_TOKEN_INVALID',
        });
        if (audience === AUDIENCE) expect((await verifier.verifyToken(tokens.access_token)).clientId).toBe(clientId);
      } finally {
        await verifier.close();
      }
    }
  });

  it('userinfo answers CORS only for an origin the token client registered', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, { allowedOrigins: ['https://spa.test.example'] });
    const config = await discover(h, clientId);
    const { tokens } = await codeFlow(h, config, 'openid');
    const ask = (origin: string) =>
      h!.app.inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Bearer ${tokens.access_token}`, origin },
      });
    expect((await ask('https://spa.test.example')).headers['access-control-allow-origin']).toBe(
      'https://spa.test.example',
    );
    expect((await ask('https://evil.test.example')).headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await h.app.inject({
      method: 'OPTIONS',
      url: '/userinfo',
      headers: { origin: 'https://spa.test.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://spa.test.example');
  });
});
