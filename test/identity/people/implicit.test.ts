import { afterEach, describe, expect, it } from 'vitest';
import { authorizePath, consentForm, signInForm } from '../../support/sign_in.js';
import { ADA, ISSUER, REDIRECT, peopleHarness, seed, type PeopleHarness } from './harness.js';

let h: PeopleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const implicitClient = { grantTypes: ['implicit'], legacyImplicit: true };

function tokenRequest(clientId: string): string {
  return authorizePath({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'token',
    scope: 'orders:read',
    state: 'st-9',
  });
}

describe('legacy implicit (response_type=token) behind two opt-ins', () => {
  it('off by default: unsupported_response_type in the query, metadata lists only code', async () => {
    h = await peopleHarness();
    const { clientId } = await seed(h, implicitClient);
    const res = await h.browser().get(tokenRequest(clientId));
    const url = new URL(res.location as string);
    expect(url.searchParams.get('error')).toBe('unsupported_response_type');
    expect(url.hash).toBe('');
    expect((await h.identity.metadata()).response_types_supported).toEqual(['code']);
    expect((await h.identity.metadata()).grant_types_supported).not.toContain('implicit');
  });

  it('on globally but not for the client: unsupported_response_type', async () => {
    h = await peopleHarness({ legacyImplicit: true });
    const { clientId } = await seed(h);
    const res = await h.browser().get(tokenRequest(clientId));
    expect(new URL(res.location as string).searchParams.get('error')).toBe('unsupported_response_type');
  });

  it('on at both levels: fragment response, short token, no refresh token, a deprecation warning each time', async () => {
    h = await peopleHarness({ legacyImplicit: true });
    expect((await h.identity.metadata()).response_types_supported).toEqual(['code', 'token']);
    expect((await h.identity.metadata()).response_modes_supported).toEqual(['query', 'fragment']);
    expect((await h.identity.metadata()).grant_types_supported).toContain('implicit');
    const { clientId } = await seed(h, implicitClient);
    const browser = h.browser();
    const login = await browser.get(tokenRequest(clientId));
    const consent = await browser.post('/oauth2/authorize/login', signInForm(login, ADA));
    const done = await browser.post('/oauth2/authorize/consent', consentForm(consent, 'allow', true));
    const url = new URL(done.location as string);
    expect(url.search).toBe('');
    const fragment = new URLSearchParams(url.hash.slice(1));
    expect(fragment.get('token_type')).toBe('Bearer');
    expect(fragment.get('expires_in')).toBe('300');
    expect(fragment.get('state')).toBe('st-9');
    expect(fragment.get('iss')).toBe(ISSUER);
    expect(fragment.get('refresh_token')).toBeNull();
    expect(fragment.get('access_token')?.split('.')).toHaveLength(3);
    const again = await browser.get(tokenRequest(clientId));
    expect(new URL(again.location as string).hash).toContain('access_token=');
    const warnings = h.logger.lines.filter((e) => e.event === 'legacy_implicit_used');
    expect(warnings).toHaveLength(2);
    // errors after acceptance go in the fragment too
    const bad = await browser.get(tokenRequest(clientId).replace('orders%3Aread', 'orders%3Aadmin'));
    expect(new URLSearchParams(new URL(bad.location as string).hash.slice(1)).get('error')).toBe('invalid_scope');
  });
});
