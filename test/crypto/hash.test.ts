import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  hkdfSha256,
  randomKey,
  randomNonce,
  randomToken,
  secureRandomBytes,
  sha256,
  sha256Base64url,
  sha256Hex,
} from '../../src/crypto/index.js';

describe('sha256', () => {
  it('matches the FIPS 180-2 "abc" vector in every form', () => {
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(expected);
    expect(sha256(Buffer.from('abc')).toString('hex')).toBe(expected);
    expect(sha256Base64url('abc')).toBe(Buffer.from(expected, 'hex').toString('base64url'));
  });

  it('gives the RFC 7636 appendix B S256 challenge', () => {
    expect(sha256Base64url('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });
});

describe('constantTimeEqual', () => {
  it('is true only for equal inputs, including inputs of different lengths', () => {
    expect(constantTimeEqual('secret', 'secret')).toBe(true);
    expect(constantTimeEqual(Buffer.from('secret'), 'secret')).toBe(true);
    expect(constantTimeEqual('secret', 'secreT')).toBe(false);
    expect(constantTimeEqual('secret', 'secret-longer')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'x')).toBe(false);
  });
});

describe('hkdfSha256', () => {
  it('matches RFC 5869 test case 1', () => {
    const okm = hkdfSha256(
      Buffer.alloc(22, 0x0b),
      Buffer.from('000102030405060708090a0b0c', 'hex'),
      Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'),
      42,
    );
    expect(okm.toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });
});

describe('random', () => {
  it('gives the documented sizes and distinct values', () => {
    expect(randomKey().length).toBe(32);
    expect(randomNonce().length).toBe(12);
    expect(secureRandomBytes(7).length).toBe(7);
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(randomKey().equals(randomKey())).toBe(false);
  });
});
