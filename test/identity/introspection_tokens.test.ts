import { describe, expect, it } from 'vitest';
import { generateSigningKey, publicJwk, signJwt } from '../../src/crypto/index.js';
import { IssuedTokenCheck } from '../../src/identity/index.js';

const ISSUER = 'https://id.test.example';
const NOW = Date.parse('2026-06-01T00:00:00Z');

function setup() {
  const key = generateSigningKey('ES256', 'k1');
  const other = generateSigningKey('ES256', 'k2');
  let jwks = JSON.stringify({ keys: [publicJwk(key), publicJwk(other)] });
  const check = new IssuedTokenCheck(
    () => jwks,
    () => ISSUER,
  );
  const token = (claims: Record<string, unknown> = {}, typ = 'at+jwt', signer = key) =>
    signJwt(
      { typ },
      { iss: ISSUER, sub: 's', aud: 'api', exp: NOW / 1000 + 60, iat: NOW / 1000, jti: 'j1', ...claims },
      signer,
    );
  return {
    check,
    token,
    other,
    dropKey: (kid: string) => {
      jwks = JSON.stringify({ keys: JSON.parse(jwks).keys.filter((k: { kid: string }) => k.kid !== kid) });
    },
  };
}

describe('IssuedTokenCheck', () => {
  it('accepts our access tokens and refuses other types, issuers, expired and tampered tokens', () => {
    const { check, token } = setup();
    expect(check.claims(token(), NOW)?.['sub']).toBe('s');
    expect(check.claims(token({}, 'JWT'), NOW)).toBeUndefined(); // an ID token or other JWT
    expect(check.claims(token({ iss: 'https://evil.example' }), NOW)).toBeUndefined();
    expect(check.claims(token({ exp: NOW / 1000 }), NOW)).toBeUndefined();
    const good = token({ jti: 'j2' });
    const [h, p, s] = good.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' }));
    expect(check.claims(`${h}.${forged.toString('base64url')}.${s}`, NOW)).toBeUndefined();
  });

  it('remembers a verified token: later checks still refuse it once expired or once its key leaves the JWKS', () => {
    const { check, token, other, dropKey } = setup();
    const t = token({}, 'at+jwt', other);
    const first = check.claims(t, NOW);
    expect(first?.['jti']).toBe('j1');
    expect(Object.isFrozen(first)).toBe(true);
    expect(check.claims(t, NOW + 1000)).toBe(first); // the remembered claims, no second verification
    expect(check.claims(t, NOW + 60_000)).toBeUndefined(); // expired
    expect(check.claims(t, NOW + 1000)).toBe(first);
    dropKey('k2');
    expect(check.claims(t, NOW + 1000)).toBeUndefined(); // its key is gone
  });

  it('keeps at most 10,000 verified tokens', () => {
    const { check, token } = setup();
    const first = token({ jti: 'first' });
    check.claims(first, NOW);
    for (let i = 0; i < 10_001; i += 1) check.claims(token({ jti: `t${i}` }), NOW);
    const internals = check as unknown as { recent: Map<string, unknown>; older: Map<string, unknown> };
    expect(internals.recent.size + internals.older.size).toBeLessThanOrEqual(10_000);
    expect(check.claims(first, NOW)?.['jti']).toBe('first'); // forgotten, so verified again: still valid
  });
});
