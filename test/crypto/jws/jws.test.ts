import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { isGatehouseError } from '../../../src/core/index.js';
import {
  decodeJwt,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  jwkThumbprint,
  publicJwk,
  signJwt,
  verificationKeyFromJwk,
  verificationKeyOf,
  verifyJwtSignature,
  JWS_ALGORITHMS,
  type SigningKey,
} from '../../../src/crypto/index.js';

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const keys = new Map<string, SigningKey>(JWS_ALGORITHMS.map((alg) => [alg, generateSigningKey(alg, `k-${alg}`)]));
const key = (alg: string): SigningKey => keys.get(alg) as SigningKey;
const claims = { sub: 'alice', iss: 'https://issuer.test', aud: 'orders', exp: 2_000_000_000 };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isGatehouseError(err) ? err.code : 'not-a-GatehouseError';
  }
  return undefined;
}

describe('sign and verify', () => {
  for (const alg of JWS_ALGORITHMS) {
    it(`${alg}: round trip, alg and kid taken from the key`, () => {
      const token = signJwt({ typ: 'at+jwt', alg: 'none', kid: 'spoof' }, claims, key(alg));
      const decoded = decodeJwt(token);
      expect(decoded.header).toEqual({ alg, kid: `k-${alg}`, typ: 'at+jwt' });
      expect(decoded.payload).toEqual(claims);
      expect(() => verifyJwtSignature(decoded, verificationKeyOf(key(alg)))).not.toThrow();
    });

    it(`${alg}: jose verifies our tokens and we verify jose's`, async () => {
      const ours = signJwt({ typ: 'at+jwt' }, claims, key(alg));
      const jwk = publicJwk(key(alg));
      const joseKey = await jose.importJWK(jwk, alg);
      const checked = await jose.jwtVerify(ours, joseKey, { algorithms: [alg], typ: 'at+jwt' });
      expect(checked.payload.sub).toBe('alice');

      const theirs = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg, kid: `k-${alg}`, typ: 'at+jwt' })
        .sign(key(alg).privateKey);
      expect(() => verifyJwtSignature(decodeJwt(theirs), verificationKeyFromJwk(jwk))).not.toThrow();
    });
  }

  it('ES256 signatures are 64-byte IEEE-P1363, not DER', () => {
    expect(decodeJwt(signJwt({}, claims, key('ES256'))).signature.length).toBe(64);
  });

  it('refuses a header alg other than the pinned one (none, HS256 with the public key as secret, RS/ES swap)', () => {
    const es = key('ES256');
    const esPub = verificationKeyOf(es);
    const noneToken = `${b64({ alg: 'none', kid: es.kid })}.${b64(claims)}.${b64('x')}`;
    expect(code(() => verifyJwtSignature(decodeJwt(noneToken), esPub))).toBe('ERR_JWS_INVALID');

    const rs = key('RS256');
    const pem = createPublicKey(rs.privateKey).export({ format: 'pem', type: 'spki' });
    const input = `${b64({ alg: 'HS256', kid: rs.kid })}.${b64(claims)}`;
    const hs = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    expect(code(() => verifyJwtSignature(decodeJwt(hs), verificationKeyOf(rs)))).toBe('ERR_JWS_INVALID');

    const esToken = signJwt({}, claims, es);
    const relabelled = { ...decodeJwt(esToken), header: { alg: 'RS256', kid: es.kid } };
    expect(code(() => verifyJwtSignature(relabelled, esPub))).toBe('ERR_JWS_INVALID');
    expect(code(() => verifyJwtSignature(decodeJwt(esToken), verificationKeyOf(rs)))).toBe('ERR_JWS_INVALID');
  });

  it('refuses jwk, jku, x5u, x5c and crit headers even with a valid signature', () => {
    const ed = key('EdDSA');
    for (const extra of [
      { jwk: publicJwk(ed) },
      { jku: 'https://evil.test/jwks' },
      { x5u: 'https://evil.test/c' },
      { x5c: ['MIIB'] },
      { crit: ['exp'] },
    ]) {
      const token = signJwt(extra, claims, ed);
      expect(code(() => verifyJwtSignature(decodeJwt(token), verificationKeyOf(ed)))).toBe('ERR_JWS_INVALID');
    }
  });

  it('refuses a header kid naming another key and a tampered payload', () => {
    const ed = key('EdDSA');
    const other = { ...verificationKeyOf(ed), kid: 'other' };
    const token = signJwt({}, claims, ed);
    expect(code(() => verifyJwtSignature(decodeJwt(token), other))).toBe('ERR_JWS_INVALID');
    const [h, , s] = token.split('.');
    const tampered = `${h}.${b64({ ...claims, sub: 'mallory' })}.${s}`;
    expect(code(() => verifyJwtSignature(decodeJwt(tampered), verificationKeyOf(ed)))).toBe('ERR_JWS_INVALID');
  });
});

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The last character of a base64url string that has unused trailing bits, with its lowest (unused) bit flipped. */
const flipUnusedBit = (text: string): string => ALPHABET[ALPHABET.indexOf(text.slice(-1)) ^ 1] as string;

describe('decodeJwt is strict', () => {
  const good = signJwt({}, claims, key('ES256'));
  const [h, p, s] = good.split('.') as [string, string, string];
  const cases: Array<[string, string]> = [
    ['two parts', `${h}.${p}`],
    ['four parts', `${good}.${s}`],
    ['empty signature', `${h}.${p}.`],
    ['empty header', `.${p}.${s}`],
    ['padding', `${h}.${p}.${s}==`],
    ['standard base64 alphabet', `${h}.${p}.${s.replace(/[-_]/g, '+')}+`],
    ['non-JSON header', `${b64('not json')}.${p}.${s}`],
    ['array payload', `${h}.${b64([1, 2])}.${s}`],
    ['header without alg', `${b64({ typ: 'JWT' })}.${p}.${s}`],
    ['non-canonical trailing bits', `${h}.${p}.${s.slice(0, -1)}${flipUnusedBit(s)}`],
    ['too large', `${h}.${b64({ pad: 'x'.repeat(20_000) })}.${s}`],
  ];
  for (const [name, token] of cases) {
    it(`refuses ${name}`, () => {
      expect(code(() => decodeJwt(token))).toBe('ERR_JWS_MALFORMED');
    });
  }
  it('refuses non-canonical payload encodings with 1 and 2 trailing bytes', () => {
    for (const json of ['{"a":1}', '{"a":12}']) {
      const enc = Buffer.from(json).toString('base64url');
      expect(decodeJwt(`${h}.${enc}.${s}`).payload).toEqual(JSON.parse(json));
      const bad = `${enc.slice(0, -1)}${flipUnusedBit(enc)}`;
      expect(code(() => decodeJwt(`${h}.${bad}.${s}`))).toBe('ERR_JWS_MALFORMED');
    }
  });
  it('accepts the good token', () => {
    expect(decodeJwt(good).signingInput).toBe(`${h}.${p}`);
  });
});

describe('JWK', () => {
  it('publicJwk has only public members plus kid/alg/use, and matches jose thumbprints', async () => {
    for (const alg of JWS_ALGORITHMS) {
      const jwk = publicJwk(key(alg));
      expect(jwk).toMatchObject({ kid: `k-${alg}`, alg, use: 'sig' });
      expect('d' in jwk).toBe(false);
      expect(jwkThumbprint(jwk)).toBe(await jose.calculateJwkThumbprint(jwk));
      const vk = verificationKeyFromJwk(JSON.parse(JSON.stringify(jwk)));
      expect(vk.publicKey.equals(verificationKeyOf(key(alg)).publicKey)).toBe(true);
    }
  });

  it('generated kids default to the thumbprint', () => {
    const k = generateSigningKey('EdDSA');
    expect(k.kid).toBe(jwkThumbprint(publicJwk(k)));
  });

  it('refuses JWKs without alg or kid, with an alg that does not fit the key, private members, small RSA', () => {
    const es = publicJwk(key('ES256'));
    const rs = publicJwk(key('RS256'));
    const { alg: _a, ...noAlg } = es;
    const { kid: _k, ...noKid } = es;
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const bad: unknown[] = [
      noAlg,
      noKid,
      { ...es, alg: 'RS256' },
      { ...es, alg: 'HS256' },
      { ...es, alg: 'none' },
      { ...es, crv: 'P-384' },
      { ...rs, alg: 'ES256' },
      { ...rs, kty: 'oct', k: 'c2VjcmV0' },
      { ...es, d: 'AAAA' },
      { ...es, use: 'enc' },
      { ...small, alg: 'RS256', kid: 'small' },
      { ...es, x: 'not base64!' },
      null,
      [],
      'ES256',
    ];
    for (const jwk of bad) expect(code(() => verificationKeyFromJwk(jwk))).toBe('ERR_JWK_INVALID');
  });
});

describe('exportSigningKey / importSigningKey', () => {
  it('round-trips every algorithm and signs interchangeably', () => {
    for (const alg of JWS_ALGORITHMS) {
      const back = importSigningKey(exportSigningKey(key(alg)));
      expect({ kid: back.kid, alg: back.alg }).toEqual({ kid: `k-${alg}`, alg });
      const token = signJwt({}, claims, back);
      expect(() => verifyJwtSignature(decodeJwt(token), verificationKeyOf(key(alg)))).not.toThrow();
    }
  });

  it('refuses damaged or mislabelled exports', () => {
    const good = JSON.parse(exportSigningKey(key('ES256')).toString('utf8')) as Record<string, unknown>;
    const bad = [
      Buffer.from('nope'),
      Buffer.from(JSON.stringify({ ...good, v: 2 })),
      Buffer.from(JSON.stringify({ ...good, alg: 'RS256' })),
      Buffer.from(JSON.stringify({ ...good, alg: 'HS256' })),
      Buffer.from(JSON.stringify({ ...good, pkcs8: 'AAAA' })),
      Buffer.from(JSON.stringify({ ...good, kid: '' })),
    ];
    for (const b of bad) expect(code(() => importSigningKey(b))).toBe('ERR_JWK_INVALID');
  });
});
