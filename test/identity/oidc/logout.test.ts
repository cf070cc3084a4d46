import { afterEach, describe, expect, it } from 'vitest';
import { issueIdToken } from '../../../src/identity/index.js';
import { ISSUER, peopleHarness, seed, type Browser, type PeopleHarness } from '../people/harness.js';
import { codeFlow, discover } from './rp.js';

const BYE = 'https://app.test.example/signed-out';

let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A signed-in browser and an ID token of its sign-in. */
async function signedIn(harness: PeopleHarness, clientExtra: Record<string, unknown> = {}) {
  const { clientId } = await seed(harness, { postLogoutRedirectUris: [BYE], ...clientExtra });
  const config = await discover(harness, clientId);
  const browser = harness.browser();
  const { tokens } = await codeFlow(harness, config, 'openid', browser);
  return { clientId, config, browser, idToken: tokens.id_token as string };
}

async function stillSignedIn(browser: Browser): Promise<boolean> {
  const page = await browser.get('/oauth2/logout');
  return page.body.includes('>Sign out</button>');
}

const logoutUrl = (params: Record<string, string>) => `/oauth2/logout?${new URLSearchParams(params).toString()}`;

describe('OpenID Connect RP-initiated logout', () => {
  it('discovery names the end_session_endpoint', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h);
    expect((await discover(h, clientId)).serverMetadata().end_session_endpoint).toBe(`${ISSUER}/oauth2/logout`);
  });

  it('a valid id_token_hint of the signed-in person signs out at once and returns to the registered URI with state', async () => {
    h = await peopleHarness();
    const { browser, idToken } = await signedIn(h);
    expect(await stillSignedIn(browser)).toBe(true);
    const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: 's-1' }));
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${BYE}?state=s-1`);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('without a hint the person confirms with a CSRF-protected "Sign out" button', async () => {
    h = await peopleHarness();
    const { clientId, browser } = await signedIn(h);
    const query = { client_id: clientId, post_logout_redirect_uri: BYE, state: 'abc' };
    const confirm = await browser.get(logoutUrl(query));
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('>Sign out</button>');
    expect(confirm.headers['content-security-policy']).toContain("form-action 'self' https://app.test.example");
    const forged = await browser.post('/oauth2/logout', { query: confirm.inputs.query as string, csrf: 'nope' });
    expect(forged.location).toBeUndefined();
    expect(await stillSignedIn(browser)).toBe(true);
    const done = await browser.post('/oauth2/logout', {
      query: confirm.inputs.query as string,
      csrf: confirm.inputs.csrf as string,
    });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${BYE}?state=abc`);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  it('refuses unregistered redirect URIs, forged hints and a client_id that contradicts the hint (no redirect)', async () => {
    h = await peopleHarness();
    const { clientId, browser, idToken } = await signedIn(h);
    const other = await seed(h, { name: 'Other' });
    const [head, body] = idToken.split('.') as [string, string];
    const forged = `${head}.${body}.${Buffer.alloc(256, 1).toString('base64url')}`;
    const cases: Array<Record<string, string>> = [
      { id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.test.example/' },
      { client_id: clientId, post_logout_redirect_uri: `${BYE}/x` },
      { post_logout_redirect_uri: BYE },
      { id_token_hint: forged, post_logout_redirect_uri: BYE },
      { id_token_hint: idToken, client_id: other.clientId },
    ];
    for (const params of cases) {
      const res = await browser.get(logoutUrl(params));
      expect(res.status).toBe(400);
      expect(res.location).toBeUndefined();
    }
    expect(await stillSignedIn(browser)).toBe(true);
  });

  it('without a session, a valid request goes straight back; a hint of someone else asks to confirm', async () => {
    h = await peopleHarness();
    const { clientId, browser, idToken } = await signedIn(h);
    const stranger = h.browser('198.51.100.8');
    const res = await stranger.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: BYE }));
    expect(res.status).toBe(302);
    expect(res.location).toBe(BYE);
    // ada's browser, presented with a genuine hint whose sub is someone else: confirmation, never an automatic sign-out
    const hint = issueIdToken(
      { issuer: ISSUER, subject: 'bob', clientId, authTime: h.clock.now() },
      h.identity.signingKeys.signer('RS256'),
      h.clock.now(),
    );
    const confirm = await browser.get(logoutUrl({ id_token_hint: hint }));
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('>Sign out</button>');
    expect(await stillSignedIn(browser)).toBe(true);
  });
});
