import { afterEach, describe, expect, it } from 'vitest';
import { decodeJwt, sha256Base64url } from '../../src/crypto/index.js';
import {
  INVALID_CLIENT_CHALLENGE,
  type PresentedCertificate,
  type TokenHttpRequest,
} from '../../src/identity/index.js';
import { basic, ccClient, identityHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ORDERS = 'spiffe://gatehouse.local/ns/demo/sa/orders';
const ordersCert: PresentedCertificate = { thumbprint: sha256Base64url('orders leaf DER'), sanUri: ORDERS };
const otherCert: PresentedCertificate = {
  thumbprint: sha256Base64url('billing leaf DER'),
  sanUri: 'spiffe://gatehouse.local/ns/demo/sa/billing',
};

/** A token request as the mTLS listener's route hands it over (framework-free). */
function request(body: string, extra: Partial<TokenHttpRequest> = {}): TokenHttpRequest {
  return {
    contentType: 'application/x-www-form-urlencoded',
    body,
    authorization: undefined,
    address: '192.0.2.1',
    ...extra,
  };
}

const parsed = (body: string) => JSON.parse(body) as Record<string, string>;

describe('tls_client_auth (RFC 8705 §2.1.2) at the token endpoint', () => {
  it('authenticates by the certificate SAN URI and binds the token to the certificate (cnf.x5t#S256)', async () => {
    h = await identityHarness();
    const { clientId } = await ccClient(h, { tlsClientAuthSanUri: ORDERS });
    const client = await h.identity.clients.get(clientId);
    expect(client.authMethod).toBe('tls_client_auth');
    const ok = await h.identity.token.handle(
      request(`grant_type=client_credentials&client_id=${clientId}`, { certificate: ordersCert }),
    );
    expect(ok.status, ok.body).toBe(200);
    const claims = decodeJwt(parsed(ok.body).access_token as string).payload;
    expect(claims['cnf']).toEqual({ 'x5t#S256': ordersCert.thumbprint });
    expect(claims['sub']).toBe(clientId);
  });

  it('answers invalid_client for another certificate, no certificate (400), or a Basic secret (401)', async () => {
    h = await identityHarness();
    const { clientId } = await ccClient(h, { tlsClientAuthSanUri: ORDERS });
    const form = `grant_type=client_credentials&client_id=${clientId}`;
    for (const extra of [{ certificate: otherCert }, {}, { authorization: basic(clientId, 'ghcs_guess') }]) {
      const res = await h.identity.token.handle(request(form, extra));
      const header = 'authorization' in extra;
      expect(res.status, JSON.stringify(extra)).toBe(header ? 401 : 400);
      expect(parsed(res.body).error).toBe('invalid_client');
      expect(res.headers['www-authenticate']).toBe(header ? INVALID_CLIENT_CHALLENGE : undefined);
    }
    const warned = h.logger.lines.filter(
      (line) => line['event'] === 'client.auth_failed' && line['clientId'] === clientId,
    );
    expect(warned.length).toBe(3);
  });

  it('binds the tokens of secret clients that come with a certificate; without one they stay bearer tokens', async () => {
    h = await identityHarness();
    const c = await ccClient(h);
    const auth = { authorization: basic(c.clientId, c.secret) };
    const bound = await h.identity.token.handle(
      request('grant_type=client_credentials', { ...auth, certificate: otherCert }),
    );
    expect(decodeJwt(parsed(bound.body).access_token as string).payload['cnf']).toEqual({
      'x5t#S256': otherCert.thumbprint,
    });
    const bearer = await h.identity.token.handle(request('grant_type=client_credentials', auth));
    expect(decodeJwt(parsed(bearer.body).access_token as string).payload['cnf']).toBeUndefined();
  });

  it('returns cnf from introspection and keeps public clients out of introspection even with a certificate', async () => {
    h = await identityHarness();
    const { clientId } = await ccClient(h, { tlsClientAuthSanUri: ORDERS });
    const issued = await h.identity.token.handle(
      request(`grant_type=client_credentials&client_id=${clientId}`, { certificate: ordersCert }),
    );
    const token = parsed(issued.body).access_token as string;
    const answer = await h.identity.introspection.handle(
      request(`client_id=${clientId}&token=${token}`, { certificate: ordersCert }),
    );
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ active: true, cnf: { 'x5t#S256': ordersCert.thumbprint } });

    const { client: spa } = await h.identity.clients.create({
      name: 'spa',
      public: true,
      grantTypes: ['authorization_code'],
      redirectUris: ['https://spa.example/cb'],
      scopes: [],
    });
    const denied = await h.identity.introspection.handle(
      request(`client_id=${spa.clientId}&token=${token}`, { certificate: ordersCert }),
    );
    expect(denied.status).toBe(400);
    expect(parsed(denied.body).error).toBe('invalid_client');
  });
});

describe('tls_client_auth registration rules and metadata', () => {
  it('needs a SAN URI of our trust domain, and only tls_client_auth takes one', async () => {
    h = await identityHarness();
    await ccClient(h);
    const harness = h;
    const create = (extra: Record<string, unknown>) =>
      harness.identity.clients.create({ name: 'x', grantTypes: ['client_credentials'], scopes: [], ...extra });
    for (const extra of [
      { authMethod: 'tls_client_auth' },
      { authMethod: 'client_secret_basic', tlsClientAuthSanUri: ORDERS },
      { tlsClientAuthSanUri: 'spiffe://elsewhere.example/ns/demo/sa/orders' },
      { tlsClientAuthSanUri: 'not a uri' },
      { tlsClientAuthSanUri: `${ORDERS}#frag` },
      {
        public: true,
        grantTypes: ['authorization_code'],
        redirectUris: ['https://a.example/cb'],
        tlsClientAuthSanUri: ORDERS,
      },
    ]) {
      await expect(create(extra), JSON.stringify(extra)).rejects.toMatchObject({ code: 'ERR_IDENTITY_CLIENT_INVALID' });
    }
    const { client } = await create({ authMethod: 'tls_client_auth', tlsClientAuthSanUri: ORDERS });
    expect(client.tlsClientAuthSanUri).toBe(ORDERS);
  });

  it('offers tls_client_auth and mtls_endpoint_aliases only once an mTLS listener is known', async () => {
    h = await identityHarness();
    const before = await h.identity.metadata();
    expect(before['token_endpoint_auth_methods_supported']).not.toContain('tls_client_auth');
    expect(before['mtls_endpoint_aliases']).toBeUndefined();
    expect(before['tls_client_certificate_bound_access_tokens']).toBeUndefined();
    h.identity.setMtlsBaseUrl('https://mtls.test.example');
    const after = await h.identity.metadata();
    expect(after['token_endpoint_auth_methods_supported']).toContain('tls_client_auth');
    expect(after['introspection_endpoint_auth_methods_supported']).toContain('tls_client_auth');
    expect(after['tls_client_certificate_bound_access_tokens']).toBe(true);
    expect(after['mtls_endpoint_aliases']).toEqual({
      token_endpoint: 'https://mtls.test.example/oauth2/token',
      introspection_endpoint: 'https://mtls.test.example/oauth2/introspect',
      revocation_endpoint: 'https://mtls.test.example/oauth2/revoke',
      device_authorization_endpoint: 'https://mtls.test.example/oauth2/device_authorization',
    });
    expect(after['token_endpoint']).toBe('https://id.test.example/oauth2/token');
  });
});
