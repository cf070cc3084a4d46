import { afterEach, describe, expect, it } from 'vitest';
import { pageCsp } from '../../../src/http/index.js';
import { formActionSource } from '../../../src/identity/index.js';
import {
  PKCE,
  authorizationCode,
  authorizePath,
  codeExchangeForm,
  consentForm,
  signInForm,
} from '../../support/sign_in.js';
import { ADA, REDIRECT, codeRequest, peopleHarness, seed, type Browser, type PeopleHarness } from './harness.js';

/**
 * What a person meets on the sign-in pages beyond the happy path: a reloaded page, a form left open too long, a wrong
 * password, signing in without an app, signing out twice, a native app's redirect URI, the account page's "Revoke",
 * and a client that opens sign-in pages without ever keeping the cookie.
 */
let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const authorizeUrl = (clientId: string, extra: Record<string, string> = {}) =>
  authorizePath(codeRequest(clientId, extra));

describe('stale forms', () => {
  it('a reloaded sign-in (the form sent again once signed in) goes on to the request instead of a CSRF error', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const login = await browser.get(authorizeUrl(clientId));
    const consent = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(consent.body).toContain('>Allow</button>');
    // the browser's reload of that page: the same POST, the pre-sign-in CSRF token, the new session cookie
    const reloaded = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(reloaded.status).toBe(303);
    expect(reloaded.location).toBe(authorizeUrl(clientId));
    const again = await browser.get(reloaded.location as string);
    expect(again.status).toBe(200);
    expect(again.body).toContain('>Allow</button>');
    expect(again.inputs.csrf).toBe(consent.inputs.csrf);
    // and the same for a sign-in without an app: the account page
    const plain = await browser.post('/oauth2/authorize/login', { ...signInForm(login, ADA), query: '' });
    expect(plain.status).toBe(303);
    expect(plain.location).toBe('/oauth2/account');
  });

  it('a sign-in form that outlived its session comes back with a fresh token and says so; nobody is signed in', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const login = await browser.get(authorizeUrl(clientId));
    h.clock.advance(31 * 60_000); // the anonymous session (30 min) is gone
    const expired = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(expired.status).toBe(403);
    expect(expired.body).toContain('This page had expired; please sign in again');
    expect(expired.body).toContain('>Sign in</button>');
    expect(expired.inputs.csrf).not.toBe(login.inputs.csrf);
    expect(expired.inputs.query).toBe(login.inputs.query);
    expect(expired.headers['content-security-policy']).toContain("form-action 'self' https://app.test.example");
    const consent = await browser.post('/oauth2/authorize/login', signInForm(expired, ADA));
    expect(consent.body).toContain('>Allow</button>');
  });

  it('a consent form that outlived its session decides nothing and leads back to sign-in', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const consent = await browser.post(
      '/oauth2/authorize/login',
      signInForm(await browser.get(authorizeUrl(clientId)), ADA),
    );
    h.clock.advance(61 * 60_000); // idle: the session is gone
    const late = await browser.post('/oauth2/authorize/consent', consentForm(consent, 'allow', true));
    expect(late.status).toBe(303);
    expect(late.location).toBe(authorizeUrl(clientId));
    expect((await browser.get(late.location as string)).body).toContain('>Sign in</button>');
  });

  it('a wrong password keeps the username typed (escaped), never the password', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const login = await browser.get(authorizeUrl(clientId));
    const wrong = await browser.post(
      '/oauth2/authorize/login',
      signInForm(login, { username: 'ada"><b>', password: 'not the password' }),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.inputs.username).toBe('ada"><b>');
    expect(wrong.body).not.toContain('ada"><b>');
    expect(wrong.body).not.toContain('not the password');
  });

  it('signing in without an app, or visiting the sign-in page signed in, ends on the account page', async () => {
    h = await peopleHarness();
    await seed(h);
    const browser = h.browser();
    const login = await browser.get('/oauth2/login');
    const signed = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(signed.status).toBe(303);
    expect(signed.location).toBe('/oauth2/account');
    const account = await browser.get('/oauth2/account');
    expect(account.body).toContain('Signed in as <strong>ada</strong>');
    const visit = await browser.get('/oauth2/login');
    expect(visit.status).toBe(302);
    expect(visit.location).toBe('/oauth2/account');
  });

  it("the forms' targets opened as pages (address bar, restored tab) lead to sign-in, not a JSON 404", async () => {
    h = await peopleHarness();
    const browser = h.browser();
    for (const path of ['/oauth2/authorize/login', '/oauth2/authorize/consent', '/oauth2/account/revoke']) {
      const page = await browser.get(path);
      expect([page.status, page.location], path).toEqual([302, '/oauth2/login']);
    }
  });

  it('"Sign out" on a page whose session already ended signs out instead of showing a CSRF error', async () => {
    h = await peopleHarness();
    await seed(h);
    const browser = h.browser();
    await browser.post('/oauth2/authorize/login', signInForm(await browser.get('/oauth2/login'), ADA));
    const logout = await browser.get('/oauth2/logout');
    h.clock.advance(61 * 60_000);
    const out = await browser.post('/oauth2/logout', { csrf: logout.inputs.csrf as string });
    expect(out.status).toBe(200);
    expect(out.body).toContain('You are signed out.');
    // signed in, a forged form still signs nobody out
    const other = h.browser();
    await other.post('/oauth2/authorize/login', signInForm(await other.get('/oauth2/login'), ADA));
    const forged = await other.post('/oauth2/logout', { csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect((await other.get('/oauth2/account')).body).toContain('Signed in as');
  });
});

describe("a native app's private-use redirect URI (RFC 8252 §7.1)", () => {
  it('the pages let the form end in a redirect to its scheme (CSP form-action), else "Allow" would do nothing', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, { redirectUris: ['com.example.app:/oauth/cb'] });
    const browser = h.browser();
    const login = await browser.get(authorizeUrl(clientId, { redirect_uri: 'com.example.app:/oauth/cb' }));
    expect(login.headers['content-security-policy']).toContain("form-action 'self' com.example.app:;");
    const consent = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    expect(consent.headers['content-security-policy']).toContain("form-action 'self' com.example.app:;");
    const done = await browser.post('/oauth2/authorize/consent', consentForm(consent, 'allow'));
    expect(done.status).toBe(303);
    expect(done.location).toMatch(/^com\.example\.app:\/oauth\/cb\?code=/);
  });

  it('formActionSource and pageCsp: origins, app schemes, never script or data schemes', () => {
    expect(formActionSource('https://app.example/cb?x=1')).toBe('https://app.example');
    expect(formActionSource('http://127.0.0.1:5000/cb')).toBe('http://127.0.0.1:5000');
    expect(formActionSource('com.example.app:/cb')).toBe('com.example.app:');
    expect(formActionSource('javascript:alert(1)')).toBeUndefined();
    expect(formActionSource('data:text/html,x')).toBeUndefined();
    expect(formActionSource('not a uri')).toBeUndefined();
    expect(pageCsp('javascript:')).toContain("form-action 'self';");
    expect(pageCsp("https://a.example; script-src 'unsafe-inline'")).toContain("form-action 'self';");
    expect(pageCsp('https://a.example/path')).toContain("form-action 'self';");
  });

  it('a client cannot register a javascript:, data: or file: redirect URI', async () => {
    h = await peopleHarness();
    for (const uri of ['javascript:alert(1)//', 'data:text/html,hi', 'file:///etc/passwd', 'vbscript:x']) {
      await expect(seed(h, { redirectUris: [uri] })).rejects.toMatchObject({ code: 'ERR_IDENTITY_CLIENT_INVALID' });
    }
  });

  it('a client cannot register an http redirect URI off loopback (RFC 9700 §2.6), nor one with a fragment', async () => {
    h = await peopleHarness();
    for (const uri of [
      'http://app.test.example/cb',
      'http://127.0.0.1.evil.example/cb',
      'http://localhost.evil.example/cb',
      'https://app.test.example/cb#frag',
      'https://app.test.example/cb#',
      'not a uri',
    ]) {
      await expect(seed(h, { redirectUris: [uri] }), uri).rejects.toMatchObject({
        code: 'ERR_IDENTITY_CLIENT_INVALID',
      });
    }
    for (const uri of ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'https://app.test.example/cb?x=1']) {
      await expect(seed(h, { redirectUris: [uri] }), uri).resolves.toMatchObject({ clientId: expect.any(String) });
    }
  });
});

describe('the account page', () => {
  async function offline(browser: Browser, clientId: string): Promise<Record<string, unknown>> {
    const code = await authorizationCode(browser, authorizeUrl(clientId, { scope: 'orders:read offline_access' }), ADA);
    const tokens = await (h as PeopleHarness).token(codeExchangeForm(clientId, code, PKCE.verifier, REDIRECT));
    expect(tokens.status).toBe(200);
    return tokens.json;
  }

  it('lists an app that holds refresh tokens without a remembered consent; "Revoke" ends its tokens', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const { clientId: other } = await seed(h, { name: 'Other Desk' });
    const browser = h.browser();
    // "Remember this choice" off: no consent is stored, but the app got a refresh token
    const tokens = await offline(browser, clientId);
    const kept = await offline(browser, other);
    const account = await browser.get('/oauth2/account');
    expect(account.body).toContain('<strong>Order Desk</strong>: See your orders at https://orders.test.example');
    expect(account.body).toContain(
      'It stays connected while you are away, until you revoke it or it goes unused for 14 days.',
    );
    expect(account.body).toContain('Other Desk');
    expect(account.body).not.toContain('offline_access');

    const revoked = await browser.post('/oauth2/account/revoke', {
      csrf: account.inputs.csrf as string,
      client_id: clientId,
    });
    expect(revoked.status).toBe(303);
    const refresh = await h.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: tokens.refresh_token as string,
    });
    expect(refresh.json.error).toBe('invalid_grant');
    const jti = JSON.parse(Buffer.from((tokens.access_token as string).split('.')[1] as string, 'base64url').toString())
      .jti as string;
    expect(h.identity.revocations.isRevoked(jti, h.clock.now())).toBe(true);
    expect(h.logger.lines.some((l) => l.event === 'app_revoked' && l.clientId === clientId)).toBe(true);
    // the other app is untouched, and the page no longer lists the revoked one
    const still = await h.token({
      grant_type: 'refresh_token',
      client_id: other,
      refresh_token: kept.refresh_token as string,
    });
    expect(still.status).toBe(200);
    const after = await browser.get('/oauth2/account');
    expect(after.body).not.toContain('<strong>Order Desk</strong>');
    expect(after.body).toContain('<strong>Other Desk</strong>');
  });

  it('no longer lists an app whose refresh tokens died idle (identity.signIn.refreshIdleTtl); "Revoke" still works for a live one', async () => {
    h = await peopleHarness({ refreshIdleTtl: '10m' });
    const { clientId } = await seed(h);
    const { clientId: other } = await seed(h, { name: 'Other Desk' });
    const browser = h.browser();
    const idle = await offline(browser, clientId);
    const kept = await offline(browser, other);
    h.clock.advance(6 * 60_000);
    const refreshed = await h.token({
      grant_type: 'refresh_token',
      client_id: other,
      refresh_token: kept.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    h.clock.advance(4 * 60_000); // Order Desk: 10 min without a refresh; Other Desk refreshed 4 min ago
    const account = await browser.get('/oauth2/account');
    expect(account.body).not.toContain('Order Desk');
    expect(account.body).toContain('<strong>Other Desk</strong>');
    expect(account.body).toContain('until you revoke it or it goes unused for 10 minutes.');
    const dead = await h.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: idle.refresh_token as string,
    });
    expect(dead.json.error).toBe('invalid_grant'); // what the page says: it is not connected any more

    const revoked = await browser.post('/oauth2/account/revoke', {
      csrf: account.inputs.csrf as string,
      client_id: other,
    });
    expect(revoked.status).toBe(303);
    const after = await h.token({
      grant_type: 'refresh_token',
      client_id: other,
      refresh_token: refreshed.json.refresh_token as string,
    });
    expect(after.json.error).toBe('invalid_grant');
    expect((await browser.get('/oauth2/account')).body).not.toContain('Other Desk');
  });

  it('"Revoke" needs the session\'s CSRF token', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    const browser = h.browser();
    const tokens = await offline(browser, clientId);
    const forged = await browser.post('/oauth2/account/revoke', { csrf: 'forged', client_id: clientId });
    expect(forged.status).toBe(403);
    const refresh = await h.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: tokens.refresh_token as string,
    });
    expect(refresh.status).toBe(200);
  });
});

describe('a client that never keeps the cookie', () => {
  it('opens at most identity.signIn.newSessionsPerAddress sign-in pages; then 429 with Retry-After, per address', async () => {
    h = await peopleHarness({ newSessionsPerAddress: { rate: 2, period: '1m', burst: 1 } });
    const { clientId } = await seed(h);
    const answers: number[] = [];
    for (let i = 0; i < 3; i++) answers.push((await h.browser('198.51.100.9').get(authorizeUrl(clientId))).status);
    expect(answers).toEqual([200, 200, 429]);
    const refused = await h.browser('198.51.100.9').get('/oauth2/login');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.body).toContain('Too many sign-in pages');
    expect(refused.headers['content-security-policy']).toContain("default-src 'none'");
    expect((await h.browser('198.51.100.10').get('/oauth2/login')).status).toBe(200);
    // a browser that keeps its cookie is not counted again
    const keeps = h.browser('198.51.100.11');
    for (let i = 0; i < 5; i++) expect((await keeps.get(authorizeUrl(clientId))).status).toBe(200);
  });
});
