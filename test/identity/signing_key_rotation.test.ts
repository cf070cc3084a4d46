import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { basic, ccClient, identityHarness, ISSUER, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.close();
  h = undefined;
});

const MIN = 60_000;

describe('signing key rotation seen by a remote JWKS verifier (jose) on an injected clock', () => {
  it('pre-publishes, signs, retires and removes with zero unknown-kid failures', async () => {
    h = await identityHarness({ accessTokenTtl: '15m', maxAccessTokenTtl: '15m', signing: { prePublish: '1h' } });
    const harness = h;
    vi.useFakeTimers({ toFake: ['Date'] });
    const sync = () => vi.setSystemTime(harness.clock.now());
    sync();
    const c = await ccClient(harness);
    const jwksRes = await harness.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    const maxAgeMs = Number(/max-age=(\d+)/.exec(String(jwksRes.headers['cache-control']))?.[1]) * 1000;
    expect(maxAgeMs).toBe(10 * MIN); // min(prePublish / 2, 10 min)
    // Strict verifier: honours max-age and never refetches early on an unknown kid (cooldown = max-age).
    const jwks = createRemoteJWKSet(new URL(`${ISSUER}/.well-known/jwks.json`), {
      cacheMaxAge: maxAgeMs,
      cooldownDuration: maxAgeMs,
      [customFetch]: harness.fetch,
    });
    const firstKid = harness.identity.signingKeys.signer().kid;
    const outstanding: Array<{ token: string; exp: number; kid: string }> = [];
    const kidsSeen = new Set<string>();
    let failures = 0;
    let verified = 0;
    let rotatedAt = 0;
    let nextKid = '';
    for (let step = 0; step <= 36; step++) {
      sync();
      if (step === 2) {
        const next = await harness.identity.signingKeys.rotate();
        nextKid = next.kid;
        rotatedAt = harness.clock.now();
        expect(next.activatesAt).toBe(rotatedAt + 60 * MIN);
        expect(harness.identity.signingKeys.signer().kid).toBe(firstKid); // published, not signing yet
      }
      await harness.identity.signingKeys.maintain();
      const res = await harness.token('grant_type=client_credentials', { authorization: basic(c.clientId, c.secret) });
      expect(res.status).toBe(200);
      const token = String(res.json.access_token);
      const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString());
      kidsSeen.add(header.kid);
      outstanding.push({ token, exp: harness.clock.now() + 15 * MIN, kid: header.kid });
      for (const t of outstanding) {
        if (t.exp <= harness.clock.now()) continue;
        try {
          await jwtVerify(t.token, jwks, { issuer: ISSUER, audience: c.audience, typ: 'at+jwt' });
          verified++;
        } catch (err) {
          failures++;
          console.error(`verification failed at step ${step} for kid ${t.kid}: ${(err as Error).message}`);
        }
      }
      const published = JSON.parse(harness.identity.signingKeys.jwksJson()).keys.map((k: { kid: string }) => k.kid);
      const since = harness.clock.now() - rotatedAt;
      if (rotatedAt > 0 && since < 60 * MIN + 15 * MIN) expect(published).toContain(firstKid);
      if (rotatedAt > 0 && since >= 60 * MIN + 15 * MIN) expect(published).not.toContain(firstKid);
      if (rotatedAt > 0) expect(published).toContain(nextKid);
      harness.clock.advance(5 * MIN);
    }
    expect(failures).toBe(0);
    expect(verified).toBeGreaterThan(36);
    expect([...kidsSeen].sort()).toEqual([firstKid, nextKid].sort());
    expect(harness.vault.secrets.has(`identity/signing-keys/${firstKid}`)).toBe(false);
  });

  it('a second rotate while one is pending returns the pending key; EdDSA and RS256 are selectable', async () => {
    h = await identityHarness({ signing: { alg: 'EdDSA' } });
    const a = await h.identity.signingKeys.rotate();
    const b = await h.identity.signingKeys.rotate();
    expect(b.kid).toBe(a.kid);
    expect(h.identity.signingKeys.signer().alg).toBe('EdDSA');
    await h.close();
    h = await identityHarness({ signing: { alg: 'RS256' } });
    const jwk = JSON.parse(h.identity.signingKeys.jwksJson()).keys[0];
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256' });
  });
});
