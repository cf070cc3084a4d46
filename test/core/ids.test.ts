import { describe, expect, it } from 'vitest';
import { prefixedId, randomId } from '../../src/core/index.js';

describe('randomId', () => {
  it('gives base64url ids of the requested size, never repeating across pool refills', () => {
    const seen = new Set<string>();
    // 20,000 ids of 12 bytes span about 60 refills of the 4 KiB pool.
    for (let i = 0; i < 20_000; i += 1) {
      const id = randomId(12);
      expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(20_000);
  });

  it('mixes sizes and serves large ids outside the pool', () => {
    expect(Buffer.from(randomId(), 'base64url')).toHaveLength(16);
    expect(Buffer.from(randomId(7), 'base64url')).toHaveLength(7);
    expect(Buffer.from(randomId(64), 'base64url')).toHaveLength(64);
    expect(Buffer.from(randomId(200), 'base64url')).toHaveLength(200);
    expect(randomId(32)).not.toBe(randomId(32));
    expect(prefixedId('key', 9)).toMatch(/^key_[A-Za-z0-9_-]{12}$/);
  });
});
