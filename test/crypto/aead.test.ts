import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aeadDecrypt, aeadEncrypt, AEAD_ALGORITHMS, randomKey, type AeadAlgorithm } from '../../src/crypto/index.js';
import { aeadEncryptWithNonce } from '../../src/crypto/aead.js';
import { isGatehouseError } from '../../src/core/index.js';
import { createSecretKey } from 'node:crypto';

interface Vector {
  name: string;
  key: string;
  nonce: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
}
interface VectorFile {
  algorithm: AeadAlgorithm;
  vectors: Vector[];
}

function load(name: string): VectorFile {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as VectorFile;
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** A copy of `buf` with byte `i` xor-ed with `mask`. */
function flip(buf: Buffer, i: number, mask = 0x80): Buffer {
  const copy = Buffer.from(buf);
  copy.writeUInt8(copy.readUInt8(i) ^ mask, i);
  return copy;
}

function failsToDecrypt(fn: () => unknown): boolean {
  try {
    fn();
  } catch (err) {
    return isGatehouseError(err, 'ERR_KMS_DECRYPT_FAILED') && err.message === 'Decryption failed';
  }
  return false;
}

for (const file of ['aes256gcm.json', 'chacha20poly1305.json']) {
  const { algorithm, vectors } = load(file);
  describe(`${algorithm} known answers (${file})`, () => {
    for (const v of vectors) {
      it(`encrypts ${v.name} to the published ciphertext and tag`, () => {
        const sealed = aeadEncryptWithNonce(algorithm, hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.aad));
        expect(sealed.toString('hex')).toBe(v.nonce + v.ciphertext + v.tag);
      });
      it(`decrypts ${v.name} to the published plaintext`, () => {
        const plaintext = aeadDecrypt(algorithm, hex(v.key), hex(v.nonce + v.ciphertext + v.tag), hex(v.aad));
        expect(plaintext.toString('hex')).toBe(v.plaintext);
      });
      it(`refuses ${v.name} with a flipped tag bit`, () => {
        const good = hex(v.nonce + v.ciphertext + v.tag);
        const bad = flip(good, good.length - 1, 0x01);
        expect(failsToDecrypt(() => aeadDecrypt(algorithm, hex(v.key), bad, hex(v.aad)))).toBe(true);
      });
    }
  });
}

describe.each(AEAD_ALGORITHMS)('%s with random nonces', (alg) => {
  const key = randomKey();
  const plaintext = Buffer.from('the quick brown fox');
  const aad = Buffer.from('orders:v1');

  it('round-trips and is 28 bytes longer than the plaintext', () => {
    const sealed = aeadEncrypt(alg, key, plaintext, aad);
    expect(sealed.length).toBe(plaintext.length + 28);
    expect(aeadDecrypt(alg, key, sealed, aad).equals(plaintext)).toBe(true);
  });

  it('accepts a KeyObject as the key', () => {
    const keyObject = createSecretKey(key);
    expect(aeadDecrypt(alg, keyObject, aeadEncrypt(alg, keyObject, plaintext, aad), aad).equals(plaintext)).toBe(true);
  });

  it('draws a fresh nonce each time', () => {
    const a = aeadEncrypt(alg, key, plaintext, aad);
    const b = aeadEncrypt(alg, key, plaintext, aad);
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
  });

  it('fails with the fixed error on wrong AAD, wrong key, any flipped byte and truncation', () => {
    const sealed = aeadEncrypt(alg, key, plaintext, aad);
    expect(failsToDecrypt(() => aeadDecrypt(alg, key, sealed, Buffer.from('orders:v2')))).toBe(true);
    expect(failsToDecrypt(() => aeadDecrypt(alg, randomKey(), sealed, aad))).toBe(true);
    for (let i = 0; i < sealed.length; i++) {
      const bad = flip(sealed, i);
      expect(failsToDecrypt(() => aeadDecrypt(alg, key, bad, aad))).toBe(true);
    }
    expect(failsToDecrypt(() => aeadDecrypt(alg, key, sealed.subarray(0, sealed.length - 1), aad))).toBe(true);
    expect(failsToDecrypt(() => aeadDecrypt(alg, key, Buffer.alloc(27), aad))).toBe(true);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => aeadEncrypt(alg, Buffer.alloc(16), plaintext)).toThrow(/Internal error/);
  });
});

it('does not decrypt AES-GCM output as ChaCha20-Poly1305', () => {
  const key = randomKey();
  const sealed = aeadEncrypt('aes-256-gcm', key, Buffer.from('x'));
  expect(failsToDecrypt(() => aeadDecrypt('chacha20-poly1305', key, sealed))).toBe(true);
});
