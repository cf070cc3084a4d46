import { afterEach, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair } from 'jose';
import { ManualClock } from '../../src/core/index.js';
import { ccClient, identityHarness, ISSUER, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function realTimeHarness(): Promise<Harness> {
  // openid-client and oauth4webapi check exp/iat against the real clock.
  return identityHarness({}, { clock: new ManualClock(Date.now()) });
}

async function discover(harness: Harness, clientId: string, auth: client.ClientAuth): Promise<client.Configuration> {
  return client.discovery(new URL(ISSUER), clientId, undefined, auth, {
    [client.customFetch]: harness.fetch,
    algorithm: 'oauth2',
  });
}

async function checkRfc9068(harness: Harness, accessToken: string, audience: string) {
  const as = await oauth.processDiscoveryResponse(
    new URL(ISSUER),
    await oauth.discoveryRequest(new URL(ISSUER), { algorithm: 'oauth2', [oauth.customFetch]: harness.fetch }),
  );
  const request = new Request('https://orders.test.example/v1/orders', {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return oauth.validateJwtAccessToken(as, request, audience, {
    [oauth.customFetch]: harness.fetch,
    signingAlgorithms: ['ES256'],
  });
}

describe('openid-client 6 as the real client', () => {
  it('discovers the issuer and gets a token with client_secret_basic; oauth4webapi validates it as RFC 9068', async () => {
    h = await realTimeHarness();
    const c = await ccClient(h);
    const config = await discover(h, c.clientId, client.ClientSecretBasic(c.secret));
    expect(config.serverMetadata().grant_types_supported).toContain('client_credentials');
    const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.scope).toBe('orders:read');
    expect(tokens.expires_in).toBe(900);
    const claims = await checkRfc9068(h, tokens.access_token, c.audience);
    expect(claims).toMatchObject({ iss: ISSUER, sub: c.clientId, client_id: c.clientId, aud: c.audience });
    expect(typeof claims.jti).toBe('string');
    const header = JSON.parse(Buffer.from(tokens.access_token.split('.')[0] as string, 'base64url').toString());
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(header.kid).toBe(h.identity.signingKeys.signer().kid);
  });

  it('client_secret_post, with resource (RFC 8707) and a per-client TTL', async () => {
    h = await realTimeHarness();
    const c = await ccClient(h, { authMethod: 'client_secret_post', accessTokenTtlMs: 120_000, roles: ['billing'] });
    const config = await discover(h, c.clientId, client.ClientSecretPost(c.secret));
    const tokens = await client.clientCredentialsGrant(config, { resource: c.audience });
    expect(tokens.expires_in).toBe(120);
    const claims = await checkRfc9068(h, tokens.access_token, c.audience);
    expect(claims.roles).toEqual(['billing']);
    expect(claims.scope).toBe('orders:read orders:write');
  });

  it('private_key_jwt (RFC 7523), and the same assertion is refused when replayed', async () => {
    h = await realTimeHarness();
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'client-key-1', alg: 'ES256' };
    const c = await ccClient(h, { authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
    expect(c.secret).toBe('');
    let assertion = '';
    const config = await discover(h, c.clientId, client.PrivateKeyJwt({ key: privateKey, kid: 'client-key-1' }));
    const tokens = await client.clientCredentialsGrant(config);
    await checkRfc9068(h, tokens.access_token, c.audience);

    // Capture an assertion and replay it by hand.
    const capture = await discover(h, c.clientId, client.PrivateKeyJwt({ key: privateKey, kid: 'client-key-1' }));
    capture[client.customFetch] = async (url, init) => {
      assertion = new URLSearchParams(String(init.body)).get('client_assertion') ?? '';
      return h!.fetch(url, init as RequestInit);
    };
    await client.clientCredentialsGrant(capture);
    const replay = await h.token(
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: c.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }).toString(),
    );
    expect([replay.status, replay.json.error]).toEqual([400, 'invalid_client']);
  });
});
