import { afterEach, describe, expect, it } from 'vitest';
import { CONSENTS_COLLECTION } from '../../../src/identity/index.js';
import {
  PKCE,
  authorizationCode,
  authorizePath,
  codeExchangeForm,
  consentForm,
  signInForm,
} from '../../support/sign_in.js';
import { basic } from '../harness.js';
import {
  ADA,
  AUDIENCE,
  ISSUER,
  PASSWORD,
  REDIRECT,
  codeRequest,
  peopleHarness,
  seed,
  type Browser,
  type PeopleHarness,
} from './harness.js';

let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function signIn(browser: Browser, url: string) {
  const login = await browser.get(url);
  return browser.post('/oauth2/authorize/login', signInForm(login, ADA));
}

/** Signs in, allows, and returns a fresh code for the given request. */
function codeFor(browser: Browser, clientId: string, extra: Record<string, string | undefined> = {}) {
  return authorizationCode(browser, authorizePath(codeRequest(clientId, extra)), ADA, { remember: true });
}

/** The token request exchanging `code` of the client `clientId` (requested at REDIRECT, PKCE.challenge). */
const codeForm = (clientId: string, code: string, extra: Record<string, string> = {}) => ({
  ...codeExchangeForm(clientId, code, PKCE.verifier, REDIRECT),
  ...extra,
});

/** Seeds ada and a client, signs in and exchanges a code granted `offline_access` (tokens with a refresh token). */
async function offlineTokens(h: PeopleHarness) {
  const { clientId } = await seed(h);
  const browser = h.browser();
  const code = await codeFor(browser, clientId, { scope: 'orders:read offline_access' });
  const tokens = await h.token(codeForm(clientId, code));
  return { clientId, browser, tokens };
}

function redirectError(location: string | undefined) {
  const url = new URL(location as string);
  expect(url.origin + url.pathname).toBe(REDIRECT);
  return {
    error: url.searchParams.get('error'),
    state: url.searchParams.get('state'),
    iss: url.searchParams.get('iss'),
  };
}

describe('authorization endpoint errors (RFC 6749 §4.1.2.1)', () => {
  it('never redirects for an unknown client or an unregistered redirect URI (no open redirector)', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    for (const params of [
      codeRequest('nope'),
      codeRequest(clientId, { redirect_uri: 'https://evil.example/callback' }),
      codeRequest(clientId, { redirect_uri: `${REDIRECT}/../x` }),
      codeRequest(clientId, { redirect_uri: `${REDIRECT}?extra=1` }),
      codeRequest(clientId, { client_id: undefined }),
    ]) {
      const page = await browser.get(authorizePath(params));
      expect(page.status).toBe(400);
      expect(page.location).toBeUndefined();
      expect(page.headers['content-type']).toContain('text/html');
    }
    const twice = await browser.get(
      `${authorizePath(codeRequest(clientId))}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
    );
    expect(twice.status).toBe(400);
    expect(twice.location).toBeUndefined();
  });

  it('answers every redirectable error at the registered redirect URI with state and iss', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const { clientId: ccOnly } = await seed(h, {
      public: false,
      grantTypes: ['client_credentials'],
      redirectUris: [REDIRECT],
    });
    const browser = h.browser();
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [codeRequest(clientId, { response_type: undefined }), 'invalid_request'],
      [codeRequest(clientId, { response_type: 'token' }), 'unsupported_response_type'],
      [codeRequest(clientId, { response_type: 'id_token' }), 'unsupported_response_type'],
      [codeRequest(clientId, { code_challenge: undefined }), 'invalid_request'],
      [codeRequest(clientId, { code_challenge_method: 'plain' }), 'invalid_request'],
      [codeRequest(clientId, { code_challenge_method: undefined }), 'invalid_request'],
      [codeRequest(clientId, { code_challenge: 'short' }), 'invalid_request'],
      [codeRequest(clientId, { scope: 'orders:admin' }), 'invalid_scope'],
      [codeRequest(clientId, { scope: 'a"b' }), 'invalid_scope'],
      [codeRequest(clientId, { resource: 'https://other.example' }), 'invalid_target'],
      [codeRequest(clientId, { prompt: 'select_account' }), 'invalid_request'],
      [codeRequest(clientId, { max_age: '-1' }), 'invalid_request'],
      [codeRequest(clientId, { prompt: 'none' }), 'login_required'],
      [codeRequest(ccOnly), 'unauthorized_client'],
    ];
    for (const [params, error] of cases) {
      const res = await browser.get(authorizePath(params));
      expect(res.status, JSON.stringify(params)).toBe(302);
      expect(redirectError(res.location)).toEqual({ error, state: 'st-1', iss: ISSUER });
    }
    const repeated = await browser.get(`${authorizePath(codeRequest(clientId))}&scope=orders:write`);
    expect(redirectError(repeated.location).error).toBe('invalid_request');
  });

  it('a parameter without a value counts as omitted (RFC 6749 §3.1): scope=, redirect_uri=, state= and the rest', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const empty = ['scope', 'redirect_uri', 'resource', 'state', 'max_age', 'response_mode', 'nonce', 'login_hint'];
    const url = `${authorizePath(codeRequest(clientId, { redirect_uri: undefined, scope: undefined, state: undefined }))}&${empty
      .map((name) => `${name}=`)
      .join('&')}`;
    await codeFor(browser, clientId, { scope: undefined }); // signed in, consent remembered for the default scopes
    const page = await browser.get(url);
    expect(page.status).toBe(302);
    const back = new URL(page.location as string);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBeNull();
    expect(back.searchParams.has('state')).toBe(false);
    // redirect_uri= named none, so the token request need not repeat it (and an empty one is omitted too)
    const tokens = await h.token(codeForm(clientId, back.searchParams.get('code') as string, { redirect_uri: '' }));
    expect(tokens.status).toBe(200);
    expect(tokens.json.scope).toBe('orders:read orders:write');
  });

  it('Deny answers access_denied; prompt=none without consent answers consent_required', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const consent = await signIn(browser, authorizePath(codeRequest(clientId)));
    const denied = await browser.post('/oauth2/authorize/consent', consentForm(consent, 'deny'));
    expect(redirectError(denied.location)).toEqual({ error: 'access_denied', state: 'st-1', iss: ISSUER });
    const none = await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none' })));
    expect(redirectError(none.location).error).toBe('consent_required');
  });

  it('remembered consent is bound to the API: the same scope name of another API asks again', async () => {
    h = await peopleHarness();
    const billing = 'https://billing.test.example';
    await h.identity.apis.create(billing, [{ name: 'orders:read', description: 'See your invoices' }]);
    const { clientId } = await seed(h, { audiences: [AUDIENCE, billing] });
    const browser = h.browser();
    expect(await codeFor(browser, clientId)).toBeTruthy(); // allowed and remembered for the default API (AUDIENCE)
    const silent = await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none' })));
    expect(new URL(silent.location as string).searchParams.get('code')).toBeTruthy();
    // `orders:read` of the billing API is another permission: no silent code, the page asks
    const other = await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none', resource: billing })));
    expect(redirectError(other.location)).toEqual({ error: 'consent_required', state: 'st-1', iss: ISSUER });
    const page = await browser.get(authorizePath(codeRequest(clientId, { resource: billing })));
    expect(page.status).toBe(200);
    expect(page.body).toContain('See your invoices');
    const allowed = await browser.post('/oauth2/authorize/consent', consentForm(page, 'allow', true));
    expect(new URL(allowed.location as string).searchParams.get('code')).toBeTruthy();
    for (const resource of [billing, AUDIENCE]) {
      const again = await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none', resource })));
      expect(new URL(again.location as string).searchParams.get('code'), resource).toBeTruthy();
    }
    const account = await browser.get('/oauth2/account');
    // in each API's own words, as the consent pages said them (the same scope name means another thing at billing)
    expect(account.body).toContain(`See your orders at ${AUDIENCE}`);
    expect(account.body).toContain(`See your invoices at ${billing}`);
    expect(account.body).not.toContain('orders:read');
  });

  it('a consent remembered without its API (the older format) allows nothing: the person is asked again', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    await signIn(browser, authorizePath(codeRequest(clientId)));
    await h.store.write([
      {
        op: 'upsert',
        collection: CONSENTS_COLLECTION,
        key: `ada|${clientId}`,
        value: { clientId, scopes: ['orders:read', 'orders:write'], grantedAt: h.clock.now() },
      },
    ]);
    const none = await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none' })));
    expect(redirectError(none.location).error).toBe('consent_required');
    const account = await browser.get('/oauth2/account');
    expect(account.status).toBe(200);
    expect(account.body).toContain('Order Desk');
    expect(await codeFor(browser, clientId)).toBeTruthy(); // asked, allowed, remembered in the new format
    const silent = await browser.get(authorizePath(codeRequest(clientId, { prompt: 'none' })));
    expect(new URL(silent.location as string).searchParams.get('code')).toBeTruthy();
  });

  it('loopback redirect URIs of native apps may use any port; nothing else may differ', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, { redirectUris: ['http://127.0.0.1/cb'] });
    const browser = h.browser();
    const ok = await browser.get(authorizePath(codeRequest(clientId, { redirect_uri: 'http://127.0.0.1:53127/cb' })));
    expect(ok.status).toBe(200);
    const wrongPath = await browser.get(
      authorizePath(codeRequest(clientId, { redirect_uri: 'http://127.0.0.1:53127/other' })),
    );
    expect(wrongPath.status).toBe(400);
    const notLoopback = await browser.get(
      authorizePath(codeRequest(clientId, { redirect_uri: 'http://localhost.evil:1/cb' })),
    );
    expect(notLoopback.status).toBe(400);
  });
});

describe('token endpoint errors for codes (RFC 6749 §5.2)', () => {
  it('code: one-time, bound to client, redirect URI and verifier; replay revokes what it issued', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const { clientId: other } = await seed(h);
    const browser = h.browser();
    const form = (code: string, extra: Record<string, string> = {}) => codeForm(clientId, code, extra);
    const cases: Array<[Record<string, string>, number, string]> = [];
    const c1 = await codeFor(browser, clientId, { scope: 'orders:read offline_access' });
    expect((await h.token({ ...form(c1), code_verifier: '' })).json.error).toBe('invalid_request');
    cases.push([form(c1, { redirect_uri: 'https://app.test.example/other' }), 400, 'invalid_grant']);
    for (const [body, status, error] of cases) {
      const res = await h.token(body);
      expect(res.status).toBe(status);
      expect(res.json.error).toBe(error);
    }
    // the failed exchange above consumed the code: it is now a replay
    expect((await h.token(form(c1))).json.error).toBe('invalid_grant');

    const c2 = await codeFor(browser, clientId);
    expect((await h.token(form(c2, { code_verifier: 'x'.repeat(43) }))).json.error).toBe('invalid_grant');
    const c3 = await codeFor(browser, clientId);
    expect((await h.token(form(c3, { client_id: other }))).json.error).toBe('invalid_grant');
    const c4 = await codeFor(browser, clientId);
    expect((await h.token({ grant_type: 'authorization_code', client_id: clientId, code: c4 })).json.error).toBe(
      'invalid_request',
    );
    expect((await h.token(form('not-a-code'))).json.error).toBe('invalid_grant');
    // RFC 6749 §4.1.3: the authorization request named redirect_uri, so the token request must repeat it
    const { redirect_uri: named, ...withoutRedirect } = form(await codeFor(browser, clientId));
    expect(named).toBe(REDIRECT);
    expect((await h.token(withoutRedirect)).json.error).toBe('invalid_grant');

    // expiry: 60 s
    const c5 = await codeFor(browser, clientId);
    h.clock.advance(61_000);
    expect((await h.token(form(c5))).json.error).toBe('invalid_grant');

    // replay after success revokes the refresh family and the access token
    const c6 = await codeFor(browser, clientId, { scope: 'orders:read offline_access' });
    const first = await h.token(form(c6));
    expect(first.status).toBe(200);
    const replay = await h.token(form(c6));
    expect(replay.json.error).toBe('invalid_grant');
    const refresh = await h.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: first.json.refresh_token as string,
    });
    expect(refresh.json.error).toBe('invalid_grant');
    const jti = JSON.parse(
      Buffer.from((first.json.access_token as string).split('.')[1] as string, 'base64url').toString(),
    ).jti;
    expect(h.identity.revocations.isRevoked(jti, h.clock.now())).toBe(true);
  });

  it('a replayed code revokes the access token it issued also without offline_access (no refresh family)', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const { client: rs, secret } = await h.identity.clients.create({
      name: 'Orders RS',
      grantTypes: ['client_credentials'],
      scopes: ['orders:read'],
      audiences: [AUDIENCE],
      roles: ['resource-server'],
    });
    const introspect = async (token: string) =>
      (await h!.token({ token }, { authorization: basic(rs.clientId, secret as string) }, '/oauth2/introspect')).json;
    const form = (code: string) => codeForm(clientId, code);
    const code = await codeFor(h.browser(), clientId);
    const first = await h.token(form(code));
    expect(first.status).toBe(200);
    expect(first.json.refresh_token).toBeUndefined();
    const accessToken = first.json.access_token as string;
    const jti = JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()).jti as string;
    expect(await introspect(accessToken)).toMatchObject({ active: true, jti });
    const replay = await h.token(form(code));
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe('invalid_grant');
    expect(await introspect(accessToken)).toEqual({ active: false });
    expect(h.identity.revocations.isRevoked(jti, h.clock.now())).toBe(true);
    const feed = await h.identity.revocations.page(undefined);
    expect(feed.items).toContainEqual(expect.objectContaining({ jti }));
  });

  it('no refresh token without offline_access; scope narrowing and resource binding on refresh', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const form = (code: string) => codeForm(clientId, code);
    const plain = await h.token(form(await codeFor(browser, clientId)));
    expect(plain.status).toBe(200);
    expect(plain.json.refresh_token).toBeUndefined();
    const offline = await h.token(
      form(await codeFor(browser, clientId, { scope: 'orders:read orders:write offline_access' })),
    );
    const rt = offline.json.refresh_token as string;
    const refresh = (extra: Record<string, string>) =>
      h!.token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: rt, ...extra });
    expect((await refresh({ scope: 'orders:read orders:admin' })).json.error).toBe('invalid_scope');
    expect((await refresh({ resource: 'https://other.example' })).json.error).toBe('invalid_target');
    const narrowed = await refresh({ scope: 'orders:read' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.json.scope).toBe('orders:read');
  });

  it('a refresh audits the access token it hands out (the jti the family records); a reused token audits none', async () => {
    h = await peopleHarness();
    const { clientId, tokens: first } = await offlineTokens(h);
    const rt = first.json.refresh_token as string;
    const refresh = () => h!.token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: rt });
    const refreshAudits = async () => {
      await new Promise((resolve) => setImmediate(resolve)); // the audit stream drains on setImmediate
      return h!.logger.lines.filter((l) => l.event === 'token.issued' && l.grantType === 'refresh_token');
    };
    const rotated = await refresh();
    expect(rotated.status).toBe(200);
    const jti = JSON.parse(
      Buffer.from((rotated.json.access_token as string).split('.')[1] as string, 'base64url').toString(),
    ).jti as string;
    expect((await refreshAudits()).map((l) => l.jti)).toEqual([jti]);
    // Reuse (grace window 0): the family is revoked, with the access token the rotation recorded, and nothing new is
    // audited.
    const reused = await refresh();
    expect(reused.json.error).toBe('invalid_grant');
    expect(await refreshAudits()).toHaveLength(1);
    expect(h.identity.revocations.isRevoked(jti, h.clock.now())).toBe(true);
  });
});

describe('pages: CSRF, cookies, CSP', () => {
  it('session cookie is HttpOnly, Secure, SameSite=Lax, host-only; pages carry a strict CSP; forged CSRF is refused', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const login = await browser.get(authorizePath(codeRequest(clientId)));
    const cookie = browser.setCookies[0] as string;
    expect(cookie).toMatch(
      /^__Host-gatehouse-session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(cookie).not.toMatch(/domain=/i);
    const csp = login.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self' https://app.test.example");
    expect(csp).not.toContain('unsafe-inline');
    expect(login.body).not.toContain('<script');
    expect(login.headers['x-frame-options']).toBe('DENY');
    expect(login.headers['access-control-allow-origin']).toBeUndefined();
    expect(login.body).toMatch(/<label for="username">/);

    const forged = await browser.post('/oauth2/authorize/login', { ...signInForm(login, ADA), csrf: 'forged' });
    expect(forged.status).toBe(403);
    // another browser's CSRF token with its own (or no) cookie
    const stranger = h.browser();
    const strangerPost = await stranger.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(strangerPost.status).toBe(403);

    const signed = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(signed.status).toBe(200);
    const rotated = browser.setCookies.at(-1) as string;
    expect(rotated.split(';')[0]).not.toBe(cookie.split(';')[0]);
    const forgedConsent = await browser.post('/oauth2/authorize/consent', {
      csrf: login.inputs.csrf as string, // the pre-sign-in token no longer counts
      query: signed.inputs.query as string,
      decision: 'allow',
    });
    // decides nothing: back to the authorization request, which asks again (no code, nothing remembered)
    expect(forgedConsent.status).toBe(303);
    expect(forgedConsent.location).toBe(`/oauth2/authorize?${signed.inputs.query as string}`);
    expect(await h.store.list(CONSENTS_COLLECTION)).toHaveLength(0);
    expect((await browser.get(forgedConsent.location as string)).body).toContain('>Allow</button>');
  });

  it('wrong password shows the same message for unknown users; logout ends the session; malformed bodies are 400 pages', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const login = await browser.get(authorizePath(codeRequest(clientId)));
    const wrong = await browser.post(
      '/oauth2/authorize/login',
      signInForm(login, { ...ADA, password: 'not the password' }),
    );
    const unknown = await browser.post(
      '/oauth2/authorize/login',
      signInForm(login, { username: 'nobody', password: 'not the password' }),
    );
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.replace(/value="[^"]*"/g, '')).toBe(unknown.body.replace(/value="[^"]*"/g, ''));

    await browser.post('/oauth2/authorize/login', { ...signInForm(login, ADA), query: '' });
    const logout = await browser.get('/oauth2/logout');
    expect(logout.body).toContain('>Sign out</button>');
    const out = await browser.post('/oauth2/logout', { csrf: logout.inputs.csrf as string });
    expect(out.status).toBe(200);
    expect((await browser.get('/oauth2/account')).body).toContain('>Sign in</button>');

    const garbage = await browser.post('/oauth2/authorize/login', {}, { 'content-type': 'application/json' });
    expect(garbage.status).toBeLessThan(500);
    const huge = await browser.post('/oauth2/authorize/login', { query: 'x'.repeat(20_000) });
    expect(huge.status).toBe(400);
  });

  it('a password change ends the session and revokes refresh tokens and their access tokens', async () => {
    h = await peopleHarness();
    const { clientId, browser, tokens } = await offlineTokens(h);
    await h.identity.people.users.setPassword('ada', 'another long password');
    const jti = JSON.parse(
      Buffer.from((tokens.json.access_token as string).split('.')[1] as string, 'base64url').toString(),
    ).jti as string;
    expect(h.identity.revocations.isRevoked(jti, h.clock.now())).toBe(true);
    const refresh = await h.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: tokens.json.refresh_token as string,
    });
    expect(refresh.json.error).toBe('invalid_grant');
    const page = await browser.get(authorizePath(codeRequest(clientId)));
    expect(page.body).toContain('>Sign in</button>');
  });
});

describe('RFC 7009 revocation of refresh tokens', () => {
  it('revoking a refresh token revokes its grant and the access tokens of the grant; another client cannot', async () => {
    h = await peopleHarness();
    const { clientId, tokens: first } = await offlineTokens(h);
    const { clientId: other } = await seed(h);
    const rotated = await h.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: first.json.refresh_token as string,
    });
    const rt = rotated.json.refresh_token as string;
    const jtiOf = (at: unknown) =>
      JSON.parse(Buffer.from((at as string).split('.')[1] as string, 'base64url').toString()).jti as string;

    const foreign = await h.token({ token: rt, client_id: other }, {}, '/oauth2/revoke');
    expect(foreign.status).toBe(200);
    const still = await h.token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: rt });
    expect(still.status).toBe(200);
    const current = still.json.refresh_token as string;

    const revoked = await h.token(
      { token: current, token_type_hint: 'refresh_token', client_id: clientId },
      {},
      '/oauth2/revoke',
    );
    expect(revoked.status).toBe(200);
    const after = await h.token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: current });
    expect(after.json.error).toBe('invalid_grant');
    for (const at of [first.json.access_token, rotated.json.access_token, still.json.access_token]) {
      expect(h.identity.revocations.isRevoked(jtiOf(at), h.clock.now())).toBe(true);
    }
  });
});

describe('sign-in throttling on the page', () => {
  it('answers 429 with Retry-After before hashing once the account budget is spent; audit lines never hold the password', async () => {
    h = await peopleHarness({ failedLoginPerAccount: { rate: 1, period: '1m', burst: 1 } });
    const { clientId } = await seed(h);
    const browser = h.browser();
    const login = await browser.get(authorizePath(codeRequest(clientId)));
    const attempt = (password: string) =>
      browser.post('/oauth2/authorize/login', signInForm(login, { ...ADA, password }));
    expect((await attempt('wrong password 1')).status).toBe(401);
    expect((await attempt('wrong password 2')).status).toBe(401);
    const throttled = await attempt(PASSWORD);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('60');
    expect(throttled.body).toContain('Too many sign-in attempts');
    const lines = JSON.stringify(h.logger.lines);
    expect(lines).toContain('ERR_IDENTITY_SIGN_IN_THROTTLED');
    expect(lines).not.toContain('wrong password');
    expect(lines).not.toContain(PASSWORD);
  });
});
