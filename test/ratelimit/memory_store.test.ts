import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { MemoryLimiterStore, decide, type RateLimit } from '../../src/ratelimit/index.js';
import { limiterStoreContract } from './limiter_store.contract.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

limiterStoreContract('MemoryLimiterStore', async () => {
  const clock = new ManualClock(T0);
  return { store: new MemoryLimiterStore({ clock, maxKeys: 1000 }), clock };
});

describe('MemoryLimiterStore', () => {
  const limit: RateLimit = { rate: 10, period: 1000, burst: 2 };

  it('holds at most maxKeys keys and keeps the last maxKeys / 2 distinct keys (two generations)', () => {
    const clock = new ManualClock(T0);
    const store = new MemoryLimiterStore({ clock, maxKeys: 4 }); // generations of 2 keys
    for (const key of ['a', 'b', 'c']) store.consumeSync(key, limit, 3); // c turns over: previous a, b; current c
    store.consumeSync('a', limit, 0); // a touched: moves to the current generation (previous b; current c, a)
    expect(store.size).toBe(3);
    store.consumeSync('d', limit, 3); // current full: b (owing) is dropped; previous c, a; current d
    expect(store.size).toBe(3);
    expect(store.evictions).toBe(1);
    for (const key of ['a', 'c', 'd']) expect(store.consumeSync(key, limit).allowed).toBe(false); // kept
    expect(store.consumeSync('b', limit).allowed).toBe(true); // evicted: its debt was forgiven
    for (let i = 0; i < 20; i += 1) store.consumeSync(`k${i}`, limit, 3);
    expect(store.size).toBeLessThanOrEqual(4);
  });

  it('with maxKeys 1 holds one key', () => {
    const clock = new ManualClock(T0);
    const store = new MemoryLimiterStore({ clock, maxKeys: 1 });
    store.consumeSync('a', limit, 3);
    store.consumeSync('b', limit, 3);
    expect(store.size).toBe(1);
    expect(store.evictions).toBe(1);
    expect(store.consumeSync('b', limit).allowed).toBe(false);
  });

  it('never stores an idle key: one whose TAT is not in the future', () => {
    const clock = new ManualClock(T0);
    const store = new MemoryLimiterStore({ clock, maxKeys: 10 });
    store.consumeSync('peek', limit, 0);
    store.consumeSync('too-big', limit, 4);
    expect(store.size).toBe(0);
    store.consumeSync('k', limit);
    expect(store.size).toBe(1);
  });

  it('evicting idle keys never changes a decision', () => {
    // Two stores see the same traffic; one is so small that it evicts constantly. A TAT is at most 300 ms ahead
    // (burst 2, T = 100 ms); the store keeps the last 4 distinct keys, so an evicted key was last touched at least
    // 4 steps of 80 ms ago: every eviction hits an idle key, and the decisions must be identical to the unbounded
    // store's and to the pure function's.
    const clock = new ManualClock(T0);
    const small = new MemoryLimiterStore({ clock, maxKeys: 8 });
    const large = new MemoryLimiterStore({ clock, maxKeys: 1000 });
    const reference = new Map<string, number>();
    let largest = 0;
    for (let round = 0; round < 30; round += 1) {
      for (let k = 0; k < 20; k += 1) {
        const key = `ip:${k}`;
        const cost = (round + k) % 4;
        const expected = decide(reference.get(key), clock.now(), limit, cost);
        reference.set(key, expected.tat);
        const { tat: _tat, ...publicPart } = expected;
        expect(small.consumeSync(key, limit, cost)).toEqual(publicPart);
        expect(large.consumeSync(key, limit, cost)).toEqual(publicPart);
        clock.advance(80);
        largest = Math.max(largest, large.size);
      }
    }
    expect(small.size).toBeLessThanOrEqual(8);
    expect(largest).toBeGreaterThan(8); // so the small store did evict
    expect(small.evictions).toBe(0); // every eviction hit an idle key
  });

  it('consumeSync and consume agree', async () => {
    const clock = new ManualClock(T0);
    const a = new MemoryLimiterStore({ clock, maxKeys: 10 });
    const b = new MemoryLimiterStore({ clock, maxKeys: 10 });
    for (let i = 0; i < 5; i += 1) expect(await b.consume('k', limit)).toEqual(a.consumeSync('k', limit));
  });

  it('validates a limit again whenever its numbers change, in place or in a new object', () => {
    const store = new MemoryLimiterStore({ clock: new ManualClock(T0), maxKeys: 10 });
    const mutable: RateLimit = { rate: 1, period: 1000, burst: 0 };
    expect(store.consumeSync('k', mutable).allowed).toBe(true);
    expect(store.consumeSync('k', mutable).allowed).toBe(false);
    mutable.rate = 0; // changed in place after a decision: refused, not decided on the remembered interval
    expect(() => store.consumeSync('k', mutable)).toThrow(/invalid rate limit/);
    // A refused limit leaves nothing behind: the same numbers are refused again, a good limit still decides.
    expect(() => store.consumeSync('k', { rate: 0, period: 1000, burst: 0 })).toThrow(/invalid rate limit/);
    mutable.rate = 1000; // 1 ms apart now: the next request conforms at once
    expect(store.consumeSync('k2', mutable)).toMatchObject({ allowed: true, remaining: 0 });
    expect(store.consumeSync('k3', { rate: 1000, period: 1000, burst: 5 })).toMatchObject({ remaining: 5 });
    expect(() => store.consumeSync('k', mutable, -1)).toThrow(/invalid rate-limit cost/);
    // Two limits in turn (a route with a per-second and a per-hour limit): each remembered, each checked on every use.
    const perSecond: RateLimit = { rate: 10, period: 1000, burst: 0 };
    const perHour: RateLimit = { rate: 100, period: 3_600_000, burst: 0 };
    expect(store.consumeSync('a', perSecond).resetAfterMs).toBe(100);
    expect(store.consumeSync('b', perHour).resetAfterMs).toBe(36_000);
    expect(store.consumeSync('c', perSecond).resetAfterMs).toBe(100);
    perHour.burst = -1;
    expect(() => store.consumeSync('d', perSecond)).not.toThrow();
    expect(() => store.consumeSync('d', perHour)).toThrow(/invalid rate limit/);
    perHour.burst = 0;
    perHour.rate = 1000; // 3.6 s apart now
    expect(store.consumeSync('e', perHour).resetAfterMs).toBe(3_600);
  });

  it('refuses a bad maxKeys', () => {
    expect(() => new MemoryLimiterStore({ clock: new ManualClock(), maxKeys: 0 })).toThrow(/maxKeys/);
  });

  it('forgets everything on close', async () => {
    const store = new MemoryLimiterStore({ clock: new ManualClock(T0), maxKeys: 10 });
    store.consumeSync('k', limit);
    await store.close();
    expect(store.size).toBe(0);
  });
});
