import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeJwt,
  jwkThumbprint,
  jwsSign,
  jwsVerify,
  verificationKeyOf,
  verifyJwtSignature,
  type JwsAlgorithm,
  type SigningKey,
} from '../../../src/crypto/index.js';

interface Vector {
  name: string;
  alg: JwsAlgorithm;
  deterministic: boolean;
  key: Record<string, string>;
  payload: string;
  compact: string;
}

const load = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as T;
const { vectors } = load<{ vectors: Vector[] }>('jws.json');

function signingKeyFrom(v: Vector): SigningKey {
  return { kid: v.key['kid'] ?? 'vector', alg: v.alg, privateKey: createPrivateKey({ key: v.key, format: 'jwk' }) };
}

describe('JWS known answers', () => {
  for (const v of vectors) {
    const [h, p, s] = v.compact.split('.') as [string, string, string];
    const input = `${h}.${p}`;
    it(`${v.name}: the payload part encodes the published payload`, () => {
      expect(Buffer.from(p, 'base64url').toString('utf8')).toBe(v.payload);
    });
    if (v.deterministic) {
      it(`${v.name}: signing reproduces the published signature byte for byte`, () => {
        expect(jwsSign(input, signingKeyFrom(v)).toString('base64url')).toBe(s);
      });
    }
    it(`${v.name}: the published signature verifies and a flipped bit does not`, () => {
      const vk = verificationKeyOf(signingKeyFrom(v));
      const sig = Buffer.from(s, 'base64url');
      expect(jwsVerify(input, sig, vk)).toBe(true);
      const bad = Buffer.from(sig);
      bad.writeUInt8(bad.readUInt8(5) ^ 0x01, 5);
      expect(jwsVerify(input, bad, vk)).toBe(false);
      expect(jwsVerify(`${input}x`, sig, vk)).toBe(false);
    });
  }

  it('RFC 7515 A.3 ES256 passes decodeJwt + verifyJwtSignature with the key pinned to ES256', () => {
    const v = vectors.find((x) => x.alg === 'ES256') as Vector;
    const decoded = decodeJwt(v.compact);
    expect(decoded.payload['iss']).toBe('joe');
    expect(() => verifyJwtSignature(decoded, verificationKeyOf(signingKeyFrom(v)))).not.toThrow();
  });

  it('RFC 7638 §3.1 thumbprint', () => {
    const t = load<{ jwk: Record<string, string>; thumbprint: string }>('thumbprint.json');
    expect(jwkThumbprint(t.jwk)).toBe(t.thumbprint);
  });
});
