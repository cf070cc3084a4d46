import { beforeEach, describe, expect, it } from 'vitest';
import { meshTokenBinding } from '../../src/app/compose.js';
import { ManualClock } from '../../src/core/index.js';
import { generateSigningKey, sha256Base64url } from '../../src/crypto/index.js';
import {
  bearerChallenge,
  boundThumbprint,
  createVerifier,
  peerCertificateThumbprint,
  type Verifier,
} from '../../src/resource/index.js';
import { AUDIENCE, ISSUER, jwksOf, mint } from './helpers.js';

const key = generateSigningKey('ES256', 'es-1');
const T0 = Date.parse('2026-06-01T00:00:00Z');
const now = T0 / 1000;
const mine = sha256Base64url('the DER of my client certificate');
const theirs = sha256Base64url('the DER of another client certificate');

let verifier: Verifier;
beforeEach(() => {
  verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: jwksOf(key) },
    revocation: { mode: 'off' },
    clock: new ManualClock(T0),
  });
});

/** The status and WWW-Authenticate error a request with `token` on a connection with `thumbprint` gets. */
async function outcome(token: string, thumbprint?: string | (() => string | undefined)): Promise<string> {
  try {
    const principal = await verifier.verifyRequest(
      { authorization: `Bearer ${token}` },
      thumbprint === undefined ? undefined : { certificateThumbprint: thumbprint },
    );
    return `200 ${principal.sub}`;
  } catch (err) {
    const challenge = bearerChallenge(err, verifier.realm);
    return `${challenge.status} ${/error="([a-z_]+)"/.exec(challenge.headers['www-authenticate'] ?? '')?.[1]}`;
  }
}

describe('RFC 8705 §3: certificate-bound tokens at the verifier', () => {
  it('accepts a bound token with its certificate and refuses it with another one or none', async () => {
    const token = mint(key, now, { cnf: { 'x5t#S256': mine } });
    expect(await outcome(token, mine)).toBe('200 alice');
    expect(await outcome(token, () => mine)).toBe('200 alice');
    expect(await outcome(token, theirs)).toBe('401 invalid_token');
    expect(await outcome(token)).toBe('401 invalid_token');
    expect(await outcome(token, () => undefined)).toBe('401 invalid_token');
  });

  it('checks the binding on verified-token cache hits too', async () => {
    const token = mint(key, now, { cnf: { 'x5t#S256': mine } });
    expect(await outcome(token, mine)).toBe('200 alice');
    expect(await outcome(token, theirs)).toBe('401 invalid_token');
    expect(await outcome(token, mine)).toBe('200 alice');
  });

  it('keeps unbound tokens working with or without a certificate, and computes the thumbprint only when bound', async () => {
    const token = mint(key, now);
    let computed = 0;
    expect(await outcome(token)).toBe('200 alice');
    expect(
      await outcome(token, () => {
        computed += 1;
        return theirs;
      }),
    ).toBe('200 alice');
    expect(computed).toBe(0);
  });

  it('refuses a cnf it cannot check (DPoP jkt, malformed thumbprints) instead of treating it as bearer', async () => {
    for (const cnf of [{ jkt: mine }, { 'x5t#S256': 'short' }, { 'x5t#S256': 7 }, 'x5t', null]) {
      const token = mint(key, now, { cnf });
      expect(await outcome(token, mine), JSON.stringify(cnf)).toBe('401 invalid_token');
    }
    expect(() => boundThumbprint({ cnf: { jkt: mine } })).toThrow();
    expect(boundThumbprint({ sub: 'x' })).toBeUndefined();
    expect(boundThumbprint({ cnf: { 'x5t#S256': mine } })).toBe(mine);
  });
});

describe('peerCertificateThumbprint', () => {
  it('hashes the DER of the TLS peer certificate and ignores plain sockets and missing certificates', () => {
    const der = Buffer.from('certificate bytes');
    const tls = { getPeerCertificate: () => ({ raw: der }) };
    expect(peerCertificateThumbprint(tls)).toBe(sha256Base64url(der));
    expect(peerCertificateThumbprint({ getPeerCertificate: () => ({}) })).toBeUndefined();
    expect(peerCertificateThumbprint({ remoteAddress: '127.0.0.1' })).toBeUndefined();
    expect(peerCertificateThumbprint(undefined)).toBeUndefined();
  });
});

describe('the mesh token-binding check (app/compose.ts)', () => {
  const check = meshTokenBinding();
  it('passes unbound tokens, tokens bound to the caller and non-JWT credentials; refuses the rest', () => {
    expect(check(mint(key, now), mine)).toBe(true);
    expect(check(mint(key, now), undefined)).toBe(true);
    expect(check(mint(key, now, { cnf: { 'x5t#S256': mine } }), mine)).toBe(true);
    expect(check(mint(key, now, { cnf: { 'x5t#S256': mine } }), theirs)).toBe(false);
    expect(check(mint(key, now, { cnf: { 'x5t#S256': mine } }), undefined)).toBe(false);
    expect(check(mint(key, now, { cnf: { jkt: mine } }), mine)).toBe(false);
    expect(check('ghk_an-api-key', theirs)).toBe(true);
  });
});
