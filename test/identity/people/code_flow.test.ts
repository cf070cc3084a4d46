import { afterEach, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { PKCE, authorizePath, codeExchangeForm, pathOf, signInAndAllow, signInForm } from '../../support/sign_in.js';
import { discover } from '../oidc/rp.js';
import { ADA, AUDIENCE, ISSUER, REDIRECT, peopleHarness, seed, type Browser, type PeopleHarness } from './harness.js';

let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Drives the pages like a person: sign in, then Allow (remembered). Returns the final redirect. */
async function signInAndRemember(browser: Browser, authorizeUrl: URL | string): Promise<string> {
  const { login, consent, done } = await signInAndAllow(browser, pathOf(authorizeUrl), ADA, { remember: true });
  expect(login.body).toContain('>Sign in</button>');
  expect(consent.body).toContain('>Allow</button>');
  expect(consent.body).toContain('>Deny</button>');
  return done.location as string;
}

describe('authorization code + PKCE with openid-client 6 as the real app', () => {
  it('signs in, consents, exchanges the code, refreshes with rotation', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const config = await discover(h, clientId, {}, 'oauth2');
    expect(config.serverMetadata().grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    );
    expect(config.serverMetadata().response_types_supported).toEqual(['code']);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'orders:read offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const location = await signInAndRemember(h.browser(), url);
    const back = new URL(location);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(ISSUER);
    const tokens = await client.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.scope).toBe('orders:read offline_access');
    expect(typeof tokens.refresh_token).toBe('string');
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ iss: ISSUER, sub: 'ada', aud: AUDIENCE, client_id: clientId, roles: ['admin'] });
    expect(claims.scope).toBe('orders:read');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(typeof refreshed.access_token).toBe('string');
    // the rotated token presented again: invalid_grant, and the whole family is revoked
    await expect(client.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('remembers consent per client and scope; a second authorization needs no page; prompt=consent asks again', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const config = await discover(h, clientId, {}, 'oauth2');
    const browser = h.browser();
    const params = (extra: Record<string, string> = {}) => ({
      redirect_uri: REDIRECT,
      scope: 'orders:read',
      code_challenge: PKCE.challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    await signInAndRemember(browser, client.buildAuthorizationUrl(config, params()));
    const again = await browser.get(pathOf(client.buildAuthorizationUrl(config, params())));
    expect(again.status).toBe(302);
    expect(new URL(again.location as string).searchParams.get('code')).toBeTruthy();
    const wider = await browser.get(
      pathOf(client.buildAuthorizationUrl(config, params({ scope: 'orders:read orders:write' }))),
    );
    expect(wider.status).toBe(200);
    expect(wider.body).toContain('Place and cancel orders');
    const forced = await browser.get(pathOf(client.buildAuthorizationUrl(config, params({ prompt: 'consent' }))));
    expect(forced.body).toContain('>Allow</button>');
    // prompt=login shows the sign-in page although signed in
    const login = await browser.get(pathOf(client.buildAuthorizationUrl(config, params({ prompt: 'login' }))));
    expect(login.body).toContain('>Sign in</button>');
    // revoke on the account page: the next request asks again
    const account = await browser.get('/oauth2/account');
    expect(account.body).toContain('Order Desk');
    const revoked = await browser.post('/oauth2/account/revoke', {
      csrf: account.inputs.csrf as string,
      client_id: clientId,
    });
    expect(revoked.status).toBe(303);
    const after = await browser.get(pathOf(client.buildAuthorizationUrl(config, params())));
    expect(after.body).toContain('>Allow</button>');
  });
});

describe('prompt, max_age, login_hint and the PKCE downgrade', () => {
  it('login_hint pre-fills the username; max_age asks for the password again once the sign-in is older', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const url = (extra: Record<string, string> = {}) =>
      authorizePath({
        client_id: clientId,
        response_type: 'code',
        scope: 'orders:read',
        code_challenge: PKCE.challenge,
        code_challenge_method: 'S256',
        ...extra,
      });
    const hinted = await browser.get(url({ login_hint: 'ada<script>' }));
    expect(hinted.inputs.username).toBe('ada<script>');
    expect(hinted.body).not.toContain('ada<script>');
    await signInAndRemember(browser, `https://id.test.example${url()}`);
    h.clock.advance(120_000);
    expect((await browser.get(url({ max_age: '600' }))).status).toBe(302);
    const again = await browser.get(url({ max_age: '60' }));
    expect(again.body).toContain('>Sign in</button>');
    // signing in again satisfies max_age without asking twice
    const done = await browser.post('/oauth2/authorize/login', signInForm(again, ADA));
    expect(done.status).toBe(303);
    const code = new URL(done.location as string).searchParams.get('code') as string;
    // the request named no redirect_uri (one registered): the token request may leave it out
    const tokens = await h.token(codeExchangeForm(clientId, code, PKCE.verifier));
    expect(tokens.status).toBe(200);
  });

  it('a verifier for a code without a challenge is refused (downgrade)', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const code = await h.identity.people.codes.issue({
      clientId,
      redirectUri: REDIRECT,
      redirectUriGiven: false,
      codeChallenge: '',
      scopes: ['orders:read'],
      audience: AUDIENCE,
      account: 'ada',
      username: 'ada',
      generation: 1,
      roles: [],
      authTime: h.clock.now(),
      familyId: '0'.repeat(32),
    });
    const res = await h.token(codeExchangeForm(clientId, code, PKCE.verifier));
    expect(res.json.error).toBe('invalid_grant');
  });
});
