import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, customFetch as joseFetch, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { fetch as undiciFetch, type Agent } from 'undici';
import type { RunningGatehouse } from '../../src/app/index.js';
import { callJson, trustingAgent } from '../support/https.js';
import { httpsBrowser, signInAndAllow as signIn } from '../support/sign_in.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

/**
 * openid-client 6 (and jose) against a real `gatehouse up` over TLS, set up the way an application developer would:
 * discovery from the issuer URL, undici's fetch trusting the platform CA's bundle, clients made through the admin API.
 * The sign-in and consent forms are posted like a browser would (cookie jar over the same trusting agent).
 */
const PASSWORD = 'correct horse battery staple';
const AUDIENCE = 'https://orders.interop.example';
const REDIRECT = 'https://app.interop.example/callback';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let running: RunningGatehouse;
let agent: Agent;
let issuer: string;
const cleanups: Array<() => Promise<void> | void> = [];

/** undici's fetch through the agent that trusts the platform CA: what openid-client and jose are given. */
const trustingFetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> =>
  (await undiciFetch(
    url as string,
    { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1],
  )) as unknown as Response;

async function admin(path: string, body: unknown): Promise<Record<string, unknown>> {
  const token = readFileSync(running.paths.adminToken, 'utf8').trim();
  const res = await callJson(agent, `${running.endpoints.admin}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    json: body,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Record<string, unknown>;
}

async function createClient(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const created = await admin('/v1/identity/clients', { name: 'Interop App', ...body });
  return { id: created.client_id as string, secret: (created.client_secret as string | undefined) ?? '' };
}

function discover(
  clientId: string,
  auth: oidc.ClientAuth,
  metadata: Partial<oidc.ClientMetadata> = {},
  algorithm: 'oidc' | 'oauth2' = 'oidc',
): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, metadata, auth, {
    [oidc.customFetch]: trustingFetch,
    algorithm,
  });
}

/** A cookie jar posting the sign-in and consent forms over TLS. */
const browser = () => httpsBrowser(agent, issuer);

/** Signs in as ada and allows in a new browser; the redirect to the client. */
async function signInAndAllow(authorizeUrl: URL): Promise<URL> {
  const { done } = await signIn(browser(), authorizeUrl.href, { username: 'ada', password: PASSWORD });
  return new URL(done.location as string);
}

async function codeFlow(config: oidc.Configuration, scope: string) {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const back = await signInAndAllow(url);
  const tokens = await oidc.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, nonce };
}

/** jose verifying one of our access tokens as an RFC 9068 resource server would, with the JWKS fetched over TLS. */
async function verifyAccessToken(token: string, audience = AUDIENCE) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), { [joseFetch]: trustingFetch });
  return jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: 'at+jwt',
    requiredClaims: ['sub', 'client_id', 'jti', 'iat'],
  });
}

/** The error openid-client throws for an OAuth error answer. */
async function oauthError(promise: Promise<unknown>): Promise<{ error: string; status: number }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected an OAuth error').toBeInstanceOf(oidc.ResponseBodyError);
  const e = err as oidc.ResponseBodyError;
  return { error: e.error, status: e.status };
}

beforeAll(async () => {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  ({ running } = await startTestGatehouse({
    dataDir: join(tmp.dir, 'data'),
    overrides: { identity: { signIn: { scryptCost: 10 }, device: { interval: 1 } } },
  }));
  cleanups.push(() => running.stop());
  agent = trustingAgent(running.endpoints.trustBundle);
  cleanups.push(() => agent.close());
  issuer = running.endpoints.issuer;
  await admin('/v1/identity/apis', {
    audience: AUDIENCE,
    scopes: [
      { name: 'orders:read', description: 'See your orders' },
      { name: 'orders:write', description: 'Place orders' },
    ],
  });
  await admin('/v1/identity/users', { username: 'ada', password: PASSWORD, roles: ['admin'] });
}, 120_000);

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()?.();
}, 60_000);

describe('openid-client 6 against gatehouse up over TLS', () => {
  it('discovery through both well-known documents; the issuer matches', async () => {
    const { id } = await createClient({ grant_types: ['client_credentials'], scope: 'orders:read' });
    for (const algorithm of ['oidc', 'oauth2'] as const) {
      const config = await discover(id, oidc.None(), {}, algorithm);
      const meta = config.serverMetadata();
      expect(meta.issuer).toBe(issuer);
      expect(meta.token_endpoint).toBe(`${issuer}/oauth2/token`);
      expect(meta.jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
      expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    }
  });

  it('client credentials with client_secret_basic, client_secret_post and private_key_jwt; jose verifies RFC 9068', async () => {
    const basic = await createClient({ grant_types: ['client_credentials'], scope: 'orders:read orders:write' });
    const viaBasic = await oidc.clientCredentialsGrant(await discover(basic.id, oidc.ClientSecretBasic(basic.secret)), {
      scope: 'orders:read',
      resource: AUDIENCE,
    });
    expect(viaBasic.token_type.toLowerCase()).toBe('bearer');
    expect(viaBasic.scope).toBe('orders:read');
    expect(viaBasic.expires_in).toBeGreaterThan(0);
    expect(viaBasic.refresh_token).toBeUndefined();
    const { payload, protectedHeader } = await verifyAccessToken(viaBasic.access_token);
    // oauth4webapi's RFC 9068 checker, independent of jose's options above
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), { [oauth.customFetch]: trustingFetch }),
    );
    const rsRequest = new Request(`${AUDIENCE}/v1/orders`, {
      headers: { authorization: `Bearer ${viaBasic.access_token}` },
    });
    const validated = await oauth.validateJwtAccessToken(as, rsRequest, AUDIENCE, {
      [oauth.customFetch]: trustingFetch,
    });
    expect(validated).toMatchObject({ iss: issuer, client_id: basic.id, scope: 'orders:read' });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ iss: issuer, sub: basic.id, client_id: basic.id, aud: AUDIENCE });

    const post = await createClient({
      grant_types: ['client_credentials'],
      scope: 'orders:read',
      auth_method: 'client_secret_post',
    });
    const viaPost = await oidc.clientCredentialsGrant(await discover(post.id, oidc.ClientSecretPost(post.secret)));
    expect((await verifyAccessToken(viaPost.access_token)).payload.client_id).toBe(post.id);

    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'interop-1', alg: 'ES256', use: 'sig' };
    const pkj = await createClient({
      grant_types: ['client_credentials'],
      scope: 'orders:read',
      auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
    });
    const viaJwt = await oidc.clientCredentialsGrant(
      await discover(pkj.id, oidc.PrivateKeyJwt({ key: privateKey, kid: 'interop-1' })),
    );
    expect((await verifyAccessToken(viaJwt.access_token)).payload.client_id).toBe(pkj.id);
  });

  it('code + PKCE + nonce for a confidential client: ID token checked by the library, userinfo, refresh rotation', async () => {
    const c = await createClient({
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'orders:read',
      redirect_uris: [REDIRECT],
    });
    const config = await discover(c.id, oidc.ClientSecretBasic(c.secret));
    const { tokens, nonce } = await codeFlow(config, 'openid profile orders:read offline_access');
    const claims = tokens.claims();
    expect(claims).toMatchObject({ iss: issuer, aud: c.id, sub: 'ada', nonce });
    expect(typeof tokens.refresh_token).toBe('string');
    expect((await verifyAccessToken(tokens.access_token)).payload.sub).toBe('ada');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'ada');
    expect(info.sub).toBe('ada');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()?.sub).toBe('ada');
    // the rotated-out refresh token is refused, and its replay ends the family
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token as string))).toEqual({
      error: 'invalid_grant',
      status: 400,
    });
    expect(await oauthError(oidc.refreshTokenGrant(config, refreshed.refresh_token as string))).toEqual({
      error: 'invalid_grant',
      status: 400,
    });
  });

  it('introspection (RFC 7662) and revocation (RFC 7009) through the library', async () => {
    const c = await createClient({
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'orders:read',
      redirect_uris: [REDIRECT],
      auth_method: 'client_secret_post',
    });
    const config = await discover(c.id, oidc.ClientSecretPost(c.secret));
    const { tokens } = await codeFlow(config, 'openid orders:read offline_access');
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({
      active: true,
      client_id: c.id,
      sub: 'ada',
      scope: expect.stringContaining('orders:read'),
    });
    await oidc.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
    // userinfo refuses the revoked token with an RFC 6750 challenge, which the library reports as such
    const refused = await oidc.fetchUserInfo(config, tokens.access_token, 'ada').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(oidc.WWWAuthenticateChallengeError);
    expect((refused as oidc.WWWAuthenticateChallengeError).cause[0]).toMatchObject({
      scheme: 'bearer',
      parameters: { error: 'invalid_token' },
    });
    await oidc.tokenRevocation(config, tokens.refresh_token as string, { token_type_hint: 'refresh_token' });
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token as string))).toMatchObject({
      error: 'invalid_grant',
    });
    // RFC 7009 §2.2: an unknown token is answered 200
    await oidc.tokenRevocation(config, 'not-a-token');
  });

  it('device authorization grant: polling through authorization_pending and slow_down', async () => {
    const c = await createClient({ grant_types: [DEVICE_GRANT], scope: 'orders:read', public: true });
    const config = await discover(c.id, oidc.None(), {}, 'oauth2');
    const seen: string[] = [];
    let polls = 0;
    config[oidc.customFetch] = async (url, init) => {
      const isPoll = String(url).endsWith('/oauth2/token');
      if (isPoll && ++polls === 2) {
        // another poll just before the library's second one: that one comes too soon and is answered slow_down
        await trustingFetch(url, init as RequestInit).then((r) => r.text());
      }
      const res = await trustingFetch(url, init as RequestInit);
      if (isPoll) seen.push(((await res.clone().json()) as { error?: string }).error ?? 'tokens');
      return res;
    };
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'orders:read' });
    expect(started.verification_uri).toBe(`${issuer}/oauth2/device`);
    expect(started.interval).toBe(1);
    const polling = oidc.pollDeviceAuthorizationGrant(config, started);
    // the library keeps polling through authorization_pending and slow_down while nobody has allowed yet
    await expect.poll(() => seen, { timeout: 20_000, interval: 100 }).toEqual(['authorization_pending', 'slow_down']);

    const phone = browser();
    const page = await phone.get('/oauth2/device');
    const signedIn = await phone.post('/oauth2/device/login', {
      csrf: page.inputs.csrf as string,
      user_code: '',
      username: 'ada',
      password: PASSWORD,
    });
    expect(signedIn.status, signedIn.body).toBe(303);
    const entry = await phone.get(signedIn.location as string);
    const confirm = await phone.post('/oauth2/device', {
      csrf: entry.inputs.csrf as string,
      user_code: started.user_code,
    });
    expect(confirm.status, confirm.body).toBe(200);
    const done = await phone.post('/oauth2/device/consent', {
      csrf: confirm.inputs.csrf as string,
      user_code: started.user_code,
      decision: 'allow',
    });
    expect(done.status, done.body).toBeLessThan(400);
    const tokens = await polling;
    expect((await verifyAccessToken(tokens.access_token)).payload.sub).toBe('ada');
    expect(seen).toEqual(['authorization_pending', 'slow_down', 'tokens']);
  }, 60_000);

  it('invalid_client: a ResponseBodyError for credentials in the body, a challenge naming it for Basic', async () => {
    const c = await createClient({ grant_types: ['client_credentials'], scope: 'orders:read' });
    const post = await createClient({
      grant_types: ['client_credentials'],
      scope: 'orders:read',
      auth_method: 'client_secret_post',
    });
    const wrongPost = await discover(post.id, oidc.ClientSecretPost('ghcs_wrong'));
    expect(await oauthError(oidc.clientCredentialsGrant(wrongPost))).toEqual({ error: 'invalid_client', status: 400 });
    expect(await oauthError(oidc.tokenIntrospection(wrongPost, 'x'))).toEqual({ error: 'invalid_client', status: 400 });
    expect(await oauthError(oidc.tokenRevocation(wrongPost, 'x'))).toEqual({ error: 'invalid_client', status: 400 });
    // a public client may not introspect
    const device = await createClient({ grant_types: [DEVICE_GRANT], scope: 'orders:read', public: true });
    const publicConfig = await discover(device.id, oidc.None());
    expect(await oauthError(oidc.tokenIntrospection(publicConfig, 'x'))).toEqual({
      error: 'invalid_client',
      status: 400,
    });
    // a private_key_jwt assertion signed by a key the client did not register
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'registered', alg: 'ES256' };
    const pkj = await createClient({
      grant_types: ['client_credentials'],
      scope: 'orders:read',
      auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
    });
    const other = await generateKeyPair('ES256', { extractable: true });
    expect(
      await oauthError(
        oidc.clientCredentialsGrant(
          await discover(pkj.id, oidc.PrivateKeyJwt({ key: other.privateKey, kid: 'registered' })),
        ),
      ),
    ).toEqual({ error: 'invalid_client', status: 400 });
    expect(
      (
        await oidc.clientCredentialsGrant(
          await discover(pkj.id, oidc.PrivateKeyJwt({ key: privateKey, kid: 'registered' })),
        )
      ).access_token,
    ).toBeTruthy();

    // RFC 6749 §5.2: Basic gets 401 and a challenge; openid-client reports the challenge, which names the error
    const err = await oidc.clientCredentialsGrant(await discover(c.id, oidc.ClientSecretBasic('ghcs_wrong'))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(oidc.WWWAuthenticateChallengeError);
    const challenge = err as oidc.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause).toEqual([
      { scheme: 'basic', parameters: { realm: 'gatehouse', charset: 'UTF-8', error: 'invalid_client' } },
    ]);
    expect(((await challenge.response.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('other token errors surface as ResponseBodyError with their RFC code', async () => {
    const cc = await createClient({ grant_types: ['client_credentials'], scope: 'orders:read' });
    const ccConfig = await discover(cc.id, oidc.ClientSecretBasic(cc.secret));
    expect(await oauthError(oidc.clientCredentialsGrant(ccConfig, { scope: 'orders:write' }))).toEqual({
      error: 'invalid_scope',
      status: 400,
    });
    expect(await oauthError(oidc.clientCredentialsGrant(ccConfig, { resource: 'https://other.example' }))).toEqual({
      error: 'invalid_target',
      status: 400,
    });
    expect(await oauthError(oidc.genericGrantRequest(ccConfig, 'urn:example:unknown', {}))).toEqual({
      error: 'unsupported_grant_type',
      status: 400,
    });
    expect(await oauthError(oidc.refreshTokenGrant(ccConfig, 'not-a-refresh-token'))).toEqual({
      error: 'unauthorized_client',
      status: 400,
    });
    expect(await oauthError(oidc.initiateDeviceAuthorization(ccConfig, {}))).toEqual({
      error: 'unauthorized_client',
      status: 400,
    });

    const c = await createClient({
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'orders:read',
      redirect_uris: [REDIRECT],
    });
    const config = await discover(c.id, oidc.ClientSecretBasic(c.secret));
    expect(await oauthError(oidc.refreshTokenGrant(config, 'not-a-refresh-token'))).toEqual({
      error: 'invalid_grant',
      status: 400,
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authorizeUrl = async (extra: Record<string, string>) =>
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid orders:read',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...extra,
      });
    const back = await signInAndAllow(await authorizeUrl({ max_age: '300' }));
    const checks = { expectedState: state, expectedNonce: nonce, maxAge: 300 };
    const wrongVerifier = { ...checks, pkceCodeVerifier: oidc.randomPKCECodeVerifier() };
    expect(await oauthError(oidc.authorizationCodeGrant(config, back, wrongVerifier))).toEqual({
      error: 'invalid_grant',
      status: 400,
    });
    // a code is one-time: the failed attempt above used it
    expect(
      await oauthError(oidc.authorizationCodeGrant(config, back, { ...checks, pkceCodeVerifier: verifier })),
    ).toEqual({ error: 'invalid_grant', status: 400 });
    // max_age: the library requires auth_time in the ID token, and it is there
    const fresh = await signInAndAllow(await authorizeUrl({ max_age: '300' }));
    const tokens = await oidc.authorizationCodeGrant(config, fresh, { ...checks, pkceCodeVerifier: verifier });
    expect(typeof tokens.claims()?.auth_time).toBe('number');

    // errors at the redirect URI (with state and iss, RFC 9207) are the library's AuthorizationResponseError
    for (const [extra, error] of [
      [{ prompt: 'none' }, 'login_required'],
      [{ scope: 'openid orders:unknown' }, 'invalid_scope'],
    ] as const) {
      const redirect = await browser().get((await authorizeUrl(extra)).href);
      expect(redirect.status).toBe(302);
      const failed = await oidc
        .authorizationCodeGrant(config, new URL(redirect.location as string), { ...checks, pkceCodeVerifier: verifier })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(failed).toBeInstanceOf(oidc.AuthorizationResponseError);
      expect((failed as oidc.AuthorizationResponseError).error).toBe(error);
    }
  });
});
