import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';

// A full collection on demand, so that the heap is measured without garbage on both sides.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('MemoryLimiterStore footprint', () => {
  it('holds a key in at most 150 bytes, the key string included', () => {
    // Just past a power of two: the Maps have just doubled their tables, the most bytes per key (135 on the
    // development machine, 107 at 2^18 keys).
    const n = 131_073;
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const limit = { rate: 1000, period: 1000, burst: 100 };
    const before = heapUsed();
    // Keys as the gateway builds them (an address key), each owing (its TAT in the future), so every one is stored.
    const store = new MemoryLimiterStore({ clock, maxKeys: 2 * n });
    for (let i = 0; i < n; i += 1) store.consumeSync(`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, limit);
    expect(store.size).toBe(n);
    const perKey = (heapUsed() - before) / n;
    expect(perKey).toBeGreaterThan(20); // the measurement sees the keys at all
    expect(perKey).toBeLessThanOrEqual(150);
    store.consumeSync('ip:10.0.0.0', limit); // keeps the store alive through the measurement
  });
});
