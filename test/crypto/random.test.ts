import { describe, expect, it } from 'vitest';
import { randomKey, randomNonce, randomToken, writeNonce } from '../../src/crypto/index.js';

describe('random', () => {
  it('writeNonce writes 12 fresh bytes at the offset and nothing else, never repeating across pool refills', () => {
    const seen = new Set<string>();
    // 1,000 nonces span about three refills of the 4 KiB pool.
    for (let i = 0; i < 1_000; i += 1) {
      const out = Buffer.alloc(20, 0xaa);
      writeNonce(out, 4);
      expect(out.subarray(0, 4).every((b) => b === 0xaa)).toBe(true);
      expect(out.subarray(16).every((b) => b === 0xaa)).toBe(true);
      seen.add(out.subarray(4, 16).toString('hex'));
    }
    expect(seen.size).toBe(1_000);
  });

  it('keys, nonces and tokens have their sizes', () => {
    expect(randomKey()).toHaveLength(32);
    expect(randomNonce()).toHaveLength(12);
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
