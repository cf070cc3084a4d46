/** The relying party side of the OpenID Connect tests: openid-client 6 driving the pages. */
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { pathOf, signInAndAllow } from '../../support/sign_in.js';
import { ADA, ISSUER, REDIRECT, type Browser, type PeopleHarness } from '../people/harness.js';

export async function discover(
  harness: PeopleHarness,
  clientId: string,
  metadata: Partial<client.ClientMetadata> = {},
  algorithm: 'oidc' | 'oauth2' = 'oidc',
): Promise<client.Configuration> {
  return client.discovery(new URL(ISSUER), clientId, metadata, client.None(), {
    [client.customFetch]: harness.fetch,
    algorithm,
  });
}

/** Code + PKCE + nonce through the pages; returns the token response and the nonce. */
export async function codeFlow(
  harness: PeopleHarness,
  config: client.Configuration,
  scope: string,
  browser: Browser = harness.browser(),
): Promise<{ tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers; nonce: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const { done } = await signInAndAllow(browser, pathOf(url), ADA);
  const tokens = await client.authorizationCodeGrant(config, new URL(done.location as string), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    // an expected nonce makes openid-client require an ID token
    ...(scope.split(' ').includes('openid') ? { expectedNonce: nonce, idTokenExpected: true } : {}),
  });
  return { tokens, nonce };
}

export function headerOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()) as Record<string, unknown>;
}

export async function verifyWithOurJwks(harness: PeopleHarness, jwt: string, audience: string) {
  const jwks = createLocalJWKSet(JSON.parse(harness.identity.signingKeys.jwksJson()) as { keys: [] });
  return (await jwtVerify(jwt, jwks, { issuer: ISSUER, audience })).payload;
}

export const leftHalfSha256 = (text: string) =>
  createHash('sha256').update(text).digest().subarray(0, 16).toString('base64url');
