import { createHmac, createPublicKey } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import { generateSigningKey, publicJwk, signJwt } from '../../src/crypto/index.js';
import { bearerChallenge, createVerifier, type Verifier } from '../../src/resource/index.js';
import { AUDIENCE, ISSUER, accessClaims, jwksOf, mint } from './helpers.js';

const es = generateSigningKey('ES256', 'es-1');
const rs = generateSigningKey('RS256', 'rs-1');
const ed = generateSigningKey('EdDSA', 'ed-1');
const stranger = generateSigningKey('ES256', 'es-1'); // same kid, different key
const T0 = Date.parse('2026-06-01T00:00:00Z');
const now = T0 / 1000;
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

let clock: ManualClock;
let verifier: Verifier;
beforeEach(() => {
  clock = new ManualClock(T0);
  verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: jwksOf(es, rs, ed) },
    revocation: { mode: 'off' },
    clock,
  });
});

/** The RFC 6750 answer a request with `token` gets. */
async function answer(token: string): Promise<{ status: number; auth: string | undefined }> {
  try {
    await verifier.verifyRequest({ authorization: `Bearer ${token}` });
    return { status: 200, auth: undefined };
  } catch (err) {
    const c = bearerChallenge(err, verifier.realm);
    return { status: c.status, auth: c.headers['www-authenticate'] };
  }
}

const INVALID = {
  status: 401,
  auth: `Bearer realm="orders", error="invalid_token", error_description="The access token is invalid"`,
};

describe('tokens that must be refused with invalid_token', () => {
  const cases: Array<[string, () => string]> = [
    ['alg none', () => `${b64({ alg: 'none', typ: 'at+jwt', kid: 'es-1' })}.${b64(accessClaims(now))}.`],
    [
      'alg none with a signature part',
      () => `${b64({ alg: 'none', typ: 'at+jwt', kid: 'es-1' })}.${b64(accessClaims(now))}.AAAA`,
    ],
    [
      'HS256 signed with the RSA public key (PEM) as HMAC secret',
      () => {
        const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'rs-1' })}.${b64(accessClaims(now))}`;
        const pem = createPublicKey(rs.privateKey).export({ format: 'pem', type: 'spki' });
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
    ],
    [
      'HS256 signed with the EC JWK as HMAC secret',
      () => {
        const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'es-1' })}.${b64(accessClaims(now))}`;
        return `${input}.${createHmac('sha256', JSON.stringify(publicJwk(es)))
          .update(input)
          .digest('base64url')}`;
      },
    ],
    ['RS256 header on the ES256 key', () => mint({ ...rs, kid: 'es-1' }, now)],
    ['ES256 header on the RS256 key', () => mint({ ...es, kid: 'rs-1' }, now)],
    ['EdDSA header on the ES256 key', () => mint({ ...ed, kid: 'es-1' }, now)],
    ['typ JWT', () => mint(es, now, {}, { typ: 'JWT' })],
    [
      'an ID token (typ JWT, nonce, aud = client)',
      () => mint(es, now, { nonce: 'n-1', aud: 'shop-web' }, { typ: 'JWT' }),
    ],
    ['an at+jwt carrying a nonce', () => mint(es, now, { nonce: 'n-1' })],
    ['missing typ', () => mint(es, now, {}, {})],
    ['wrong iss', () => mint(es, now, { iss: 'https://evil.test' })],
    ['iss with a trailing slash', () => mint(es, now, { iss: `${ISSUER}/` })],
    ['wrong aud', () => mint(es, now, { aud: 'billing' })],
    ['aud array without us', () => mint(es, now, { aud: ['billing', 'shipping'] })],
    ['expired just past the skew', () => mint(es, now, { exp: now - 30 })],
    ['nbf in the future past the skew', () => mint(es, now, { nbf: now + 31 })],
    ['iat in the future past the skew', () => mint(es, now, { iat: now + 31 })],
    ['missing jti', () => mint(es, now, { jti: undefined })],
    ['missing client_id', () => mint(es, now, { client_id: undefined })],
    ['missing exp', () => mint(es, now, { exp: undefined })],
    ['unknown kid', () => mint(generateSigningKey('ES256', 'nobody'), now)],
    [
      'no kid',
      () => signJwt({ typ: 'at+jwt' }, accessClaims(now), es).replace(/^[^.]+/, b64({ alg: 'ES256', typ: 'at+jwt' })),
    ],
    ['signed by another key under a known kid', () => mint(stranger, now)],
    [
      'tampered payload',
      () => {
        const [h, , s] = mint(es, now).split('.');
        return `${h}.${b64(accessClaims(now, { scope: 'admin' }))}.${s}`;
      },
    ],
    [
      'tampered signature',
      () => {
        const t = mint(ed, now);
        return t.slice(0, -3) + (t.slice(-3, -2) === 'A' ? 'B' : 'A') + t.slice(-2);
      },
    ],
    ['jwk header', () => mint(es, now, {}, { typ: 'at+jwt', jwk: publicJwk(es) })],
    ['jku header', () => mint(es, now, {}, { typ: 'at+jwt', jku: 'https://evil.test/jwks' })],
    ['x5u header', () => mint(es, now, {}, { typ: 'at+jwt', x5u: 'https://evil.test/x5u' })],
    ['x5c header', () => mint(es, now, {}, { typ: 'at+jwt', x5c: ['MIIB'] })],
    ['crit header', () => mint(es, now, {}, { typ: 'at+jwt', crit: ['exp'], exp: 1 })],
    ['huge token', () => mint(es, now, { pad: 'x'.repeat(20_000) })],
    ['non-JSON header', () => `${Buffer.from('{not json').toString('base64url')}.${b64(accessClaims(now))}.AAAA`],
    ['two parts', () => mint(es, now).split('.').slice(0, 2).join('.')],
    ['four parts', () => `${mint(es, now)}.AAAA`],
    ['padding', () => `${mint(es, now)}==`],
    ['random bytes', () => 'abc.def.ghi'],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      expect(await answer(make())).toEqual(INVALID);
    });
  }
});

describe('time edges and happy paths', () => {
  it('accepts a token expired just inside the skew, refuses one past it', async () => {
    expect((await answer(mint(es, now, { exp: now - 29 }))).status).toBe(200);
    expect(await answer(mint(es, now, { exp: now - 30 }))).toEqual(INVALID);
  });

  it('accepts nbf just inside the skew', async () => {
    expect((await answer(mint(es, now, { nbf: now + 30 }))).status).toBe(200);
  });

  it('accepts application/at+jwt, aud arrays containing us, every algorithm', async () => {
    expect((await answer(mint(es, now, {}, { typ: 'application/at+jwt' }))).status).toBe(200);
    expect((await answer(mint(rs, now, { aud: ['billing', AUDIENCE] }))).status).toBe(200);
    const p = await verifier.verifyToken(mint(ed, now));
    expect(p).toMatchObject({ kind: 'jwt', sub: 'alice', clientId: 'shop-web', roles: ['clerk'], keyId: 'ed-1' });
    expect([...p.scopes]).toEqual(['orders:read', 'orders:write']);
  });

  it('no credentials: 401 with only the realm; Basic is no credential; malformed Bearer: 400 invalid_request', async () => {
    const run = async (headers: Record<string, string | string[]>) => {
      try {
        await verifier.verifyRequest(headers);
        return undefined;
      } catch (err) {
        const c = bearerChallenge(err, verifier.realm);
        return [c.status, c.headers['www-authenticate']];
      }
    };
    expect(await run({})).toEqual([401, 'Bearer realm="orders"']);
    expect(await run({ authorization: 'Basic YTpi' })).toEqual([401, 'Bearer realm="orders"']);
    const bad = [400, expect.stringContaining('error="invalid_request"')];
    expect(await run({ authorization: 'Bearer' })).toEqual(bad);
    expect(await run({ authorization: 'Bearer a b' })).toEqual(bad);
    expect(await run({ authorization: ['Bearer a', 'Bearer b'] })).toEqual(bad);
  });

  it('never echoes the token and logs a warning once when revocation is off', async () => {
    const logger = new MemoryLogger();
    const v = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: jwksOf(es) },
      revocation: { mode: 'off' },
      clock,
      logger,
    });
    const token = mint(es, now, { iss: 'x' });
    const err = await v.verifyToken(token).catch((e: unknown) => e);
    expect(JSON.stringify(bearerChallenge(err, 'r'))).not.toContain(token.slice(0, 20));
    expect(logger.lines.filter((l) => l.level === 'warn' && l['event'] === 'revocation_off')).toHaveLength(1);
  });

  it('refuses bad options', () => {
    const base = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [] }, revocation: { mode: 'off' as const } };
    expect(() => createVerifier({ ...base, clockSkewSeconds: 121 })).toThrow(/clockSkewSeconds/);
    expect(() => createVerifier({ ...base, jwks: { url: 'http://id.example.test/jwks' } })).toThrow(/https/);
    expect(() => createVerifier({ ...base, revocation: { mode: 'poll' } })).toThrow(/credentials/);
  });
});
