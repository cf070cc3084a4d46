import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeJwt,
  generateSigningKey,
  signJwt,
  signJwtAsync,
  verificationKeyOf,
  verifyJwtSignature,
  type SigningKey,
} from '../../../src/crypto/index.js';

const claims = { sub: 'alice', iss: 'https://issuer.test', aud: 'orders', exp: 2_000_000_000 };

describe('signJwt header reuse', () => {
  it('writes the same header for a repeated { typ } as for a fresh one, per key and per typ', () => {
    const a = generateSigningKey('ES256', 'k-a');
    const b = generateSigningKey('ES256', 'k-b');
    for (let i = 0; i < 3; i++) {
      expect(decodeJwt(signJwt({ typ: 'at+jwt' }, claims, a)).header).toEqual({
        alg: 'ES256',
        kid: 'k-a',
        typ: 'at+jwt',
      });
      expect(decodeJwt(signJwt({ typ: 'JWT' }, claims, a)).header).toEqual({ alg: 'ES256', kid: 'k-a', typ: 'JWT' });
      expect(decodeJwt(signJwt({ typ: 'at+jwt' }, claims, b)).header).toEqual({
        alg: 'ES256',
        kid: 'k-b',
        typ: 'at+jwt',
      });
    }
    const token = signJwt({ typ: 'at+jwt' }, claims, a);
    expect(token.split('.')[0]).toBe(
      Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'k-a', typ: 'at+jwt' })).toString('base64url'),
    );
    expect(() => verifyJwtSignature(decodeJwt(token), verificationKeyOf(a))).not.toThrow();
    expect(decodeJwt(token).payload).toEqual(claims);
  });

  it('never lets a cached header outlive a change of the key object it was made for', () => {
    const key: { -readonly [K in keyof SigningKey]: SigningKey[K] } = { ...generateSigningKey('ES256', 'k-1') };
    signJwt({ typ: 'at+jwt' }, claims, key);
    key.kid = 'k-2';
    expect(decodeJwt(signJwt({ typ: 'at+jwt' }, claims, key)).header.kid).toBe('k-2');
  });

  it('encodes other headers in full, alg and kid from the key first', () => {
    const key = generateSigningKey('ES256', 'k-x');
    signJwt({ typ: 'at+jwt' }, claims, key);
    const token = signJwt({ typ: 'at+jwt', alg: 'none', kid: 'spoof', cty: 'x' }, claims, key);
    expect(token.split('.')[0]).toBe(
      Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'k-x', typ: 'at+jwt', cty: 'x' })).toString('base64url'),
    );
    expect(decodeJwt(signJwt({}, claims, key)).header).toEqual({ alg: 'ES256', kid: 'k-x' });
  });
});

describe('signJwtAsync (signature on the thread pool)', () => {
  it.each(['ES256', 'EdDSA', 'RS256'] as const)(
    'writes what signJwt writes, verifiable with the key (%s)',
    async (alg) => {
      const key = generateSigningKey(alg, `k-${alg}`);
      const token = await signJwtAsync({ typ: 'at+jwt' }, claims, key);
      const sync = signJwt({ typ: 'at+jwt' }, claims, key);
      const [h, p, sig] = token.split('.');
      expect(`${h}.${p}`).toBe(sync.split('.').slice(0, 2).join('.'));
      expect(Buffer.from(sig as string, 'base64url').length).toBe(
        Buffer.from(sync.split('.')[2] as string, 'base64url').length,
      );
      expect(() => verifyJwtSignature(decodeJwt(token), verificationKeyOf(key))).not.toThrow();
      expect(decodeJwt(token).header).toEqual({ alg, kid: `k-${alg}`, typ: 'at+jwt' });
      expect(decodeJwt(token).payload).toEqual(claims);
    },
  );

  it('rejects (never throws synchronously) when the key cannot sign', async () => {
    const key = generateSigningKey('ES256', 'k-bad');
    const broken = { ...key, privateKey: createPublicKey(key.privateKey) };
    let signing: Promise<string> | undefined;
    expect(() => {
      signing = signJwtAsync({ typ: 'at+jwt' }, claims, broken);
    }).not.toThrow();
    await expect(signing).rejects.toThrow();
  });
});
