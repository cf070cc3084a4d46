import type * as NodeCrypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

/** Every buffer a decipher's `update` returned, in order: what a decryption may leave behind in memory. */
const updates = vi.hoisted(() => [] as Buffer[]);

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof NodeCrypto>();
  const createDecipheriv = ((...args: Parameters<typeof real.createDecipheriv>) => {
    const decipher = real.createDecipheriv(...args);
    const update = decipher.update.bind(decipher) as (data: Buffer) => Buffer;
    decipher.update = ((data: Buffer) => {
      const out = update(data);
      updates.push(out);
      return out;
    }) as typeof decipher.update;
    return decipher;
  }) as typeof real.createDecipheriv;
  return { ...real, createDecipheriv, default: { ...real, createDecipheriv } };
});

const { aeadDecrypt, aeadEncrypt, randomKey } = await import('../../src/crypto/index.js');

describe('aeadDecrypt leaves no unwiped copy of what it opens', () => {
  for (const alg of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    it(`returns the decipher's own output (no concatenated copy) under ${alg}`, () => {
      const key = randomKey();
      const secret = randomKey();
      const sealed = aeadEncrypt(alg, key, secret, Buffer.from('label'));
      updates.length = 0;
      const opened = aeadDecrypt(alg, key, sealed, Buffer.from('label'));
      expect(opened.equals(secret)).toBe(true);
      expect(updates).toHaveLength(1);
      expect(updates[0]).toBe(opened);
    });

    it(`wipes the unauthenticated plaintext when the tag does not verify under ${alg}`, () => {
      const key = randomKey();
      const sealed = aeadEncrypt(alg, key, randomKey(), Buffer.from('label'));
      updates.length = 0;
      expect(() => aeadDecrypt(alg, key, sealed, Buffer.from('other label'))).toThrow(/./);
      expect(updates).toHaveLength(1);
      expect(updates[0]?.length).toBe(32);
      expect(updates[0]?.equals(Buffer.alloc(32))).toBe(true);
    });
  }
});
