import { describe, expect, it } from 'vitest';
import { fillRandom, randomKey, randomNonce, randomToken, writeNonce } from '../../src/crypto/index.js';

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

  it('fillRandom writes exactly the bytes asked for, pooled (up to 64) or direct, never repeating a slice', () => {
    const seen = new Set<string>();
    // Sizes mixed so that slices straddle the 4 KiB block's refills; 65 and 200 bypass the block.
    for (const size of [1, 12, 32, 56, 64, 65, 200]) {
      for (let i = 0; i < 300; i += 1) {
        const out = Buffer.alloc(size + 8, 0xaa);
        fillRandom(out, 4, size);
        expect(out.subarray(0, 4).every((b) => b === 0xaa)).toBe(true);
        expect(out.subarray(4 + size).every((b) => b === 0xaa)).toBe(true);
        if (size >= 12) seen.add(out.subarray(4, 4 + size).toString('hex'));
      }
    }
    expect(seen.size).toBe(6 * 300);
  });

  it('fillRandom output looks uniform: over 64 KiB every byte value appears, none far from its share', () => {
    const counts = new Array<number>(256).fill(0);
    const out = Buffer.alloc(56);
    for (let i = 0; i < 1_200; i += 1) {
      fillRandom(out, 0, 56);
      for (const b of out) counts[b]! += 1;
    }
    // 67,200 bytes: 262.5 per value expected; 6 standard deviations is about ±97.
    expect(Math.min(...counts)).toBeGreaterThan(262.5 - 97);
    expect(Math.max(...counts)).toBeLessThan(262.5 + 97);
  });

  it('keys, nonces and tokens have their sizes', () => {
    expect(randomKey()).toHaveLength(32);
    expect(randomNonce()).toHaveLength(12);
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
