import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../src/core/index.js';
import { decide, emissionIntervalUs, isIdle, type RateLimit } from '../../src/ratelimit/index.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Sends `n` requests at `now`, threading the state; returns how many were admitted and the final state. */
function burst(tat: number | undefined, now: number, limit: RateLimit, n: number): { admitted: number; tat?: number } {
  let admitted = 0;
  let state = tat;
  for (let i = 0; i < n; i += 1) {
    const d = decide(state, now, limit);
    if (d.allowed) admitted += 1;
    state = d.tat;
  }
  return { admitted, tat: state };
}

describe('emissionIntervalUs', () => {
  it('is period / rate in whole microseconds, rounded up', () => {
    expect(emissionIntervalUs({ rate: 1000, period: 1000, burst: 100 })).toBe(1000);
    expect(emissionIntervalUs({ rate: 3, period: 1000, burst: 0 })).toBe(333_334);
    expect(emissionIntervalUs({ rate: 1, period: 60_000, burst: 0 })).toBe(60_000_000);
  });

  it('refuses malformed limits with ERR_CONFIG_INVALID', () => {
    for (const bad of [
      { rate: 0, period: 1000, burst: 0 },
      { rate: 1.5, period: 1000, burst: 0 },
      { rate: 1, period: 0, burst: 0 },
      { rate: 1, period: 1000, burst: -1 },
      { rate: 1, period: 1000, burst: Number.NaN },
      { rate: 1, period: 3_600_000, burst: 1e9 },
    ]) {
      expect.soft(() => emissionIntervalUs(bad)).toThrow();
      try {
        emissionIntervalUs(bad);
      } catch (err) {
        expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
      }
    }
  });
});

describe('decide', () => {
  const limit = { rate: 10, period: 1000, burst: 4 }; // T = 100 ms, 5 at once

  it('admits a fresh key with remaining = burst', () => {
    const d = decide(undefined, T0, limit);
    expect(d).toEqual({ allowed: true, tat: (T0 + 100) * 1000, remaining: 4, retryAfterMs: 0, resetAfterMs: 100 });
  });

  it('admits exactly burst + 1 at one instant, then rejects with exact retryAfter', () => {
    const { admitted, tat } = burst(undefined, T0, limit, 20);
    expect(admitted).toBe(5);
    const d = decide(tat, T0, limit);
    expect(d.allowed).toBe(false);
    expect(d.tat).toBe(tat);
    expect(d.remaining).toBe(0);
    expect(d.retryAfterMs).toBe(100);
    expect(d.resetAfterMs).toBe(500);
  });

  it('honours the edges: just before, at and just after the retry time', () => {
    const { tat } = burst(undefined, T0, limit, 5);
    const retry = decide(tat, T0, limit).retryAfterMs;
    expect(decide(tat, T0 + retry - 1, limit).allowed).toBe(false);
    expect(decide(tat, T0 + retry - 1, limit).retryAfterMs).toBe(1);
    const at = decide(tat, T0 + retry, limit);
    expect(at.allowed).toBe(true);
    expect(at.remaining).toBe(0);
    expect(decide(tat, T0 + retry + 1, limit).allowed).toBe(true);
  });

  it('rounds a fractional retry up to whole milliseconds, still exact at the edge', () => {
    const third = { rate: 3, period: 1000, burst: 0 }; // T = 333 334 µs
    const first = decide(undefined, T0, third);
    const d = decide(first.tat, T0, third);
    expect(d.allowed).toBe(false);
    expect(d.retryAfterMs).toBe(334);
    expect(decide(first.tat, T0 + 333, third).allowed).toBe(false);
    expect(decide(first.tat, T0 + 334, third).allowed).toBe(true);
  });

  it('does not drift: the state is an exact integer sum of intervals', () => {
    const third = { rate: 3, period: 1000, burst: 99_999 };
    const { admitted, tat } = burst(undefined, T0, third, 100_001);
    expect(admitted).toBe(100_000);
    expect(tat).toBe(T0 * 1000 + 100_000 * 333_334);
    // 333.334 ms added 100 000 times as floating-point milliseconds would not land on a whole microsecond.
    let float = 0;
    for (let i = 0; i < 100_000; i += 1) float += 333.334;
    expect(float * 1000).not.toBe(100_000 * 333_334);
  });

  it('lets an idle key refill completely and never beyond its burst', () => {
    const { tat } = burst(undefined, T0, limit, 5);
    expect(isIdle(tat, T0 + 499)).toBe(false);
    expect(isIdle(tat, T0 + 500)).toBe(true);
    expect(burst(tat, T0 + 500, limit, 20).admitted).toBe(5);
    expect(burst(tat, T0 + 3_600_000, limit, 20).admitted).toBe(5);
    expect(burst(tat, T0 + 250, limit, 20).admitted).toBe(2);
  });

  it('charges cost > 1 as several requests', () => {
    const d = decide(undefined, T0, limit, 3);
    expect(d.allowed).toBe(true);
    expect(d.remaining).toBe(2);
    expect(d.resetAfterMs).toBe(300);
    const e = decide(d.tat, T0, limit, 3);
    expect(e.allowed).toBe(false);
    expect(e.remaining).toBe(2);
    expect(e.retryAfterMs).toBe(100);
    expect(decide(d.tat, T0, limit, 2).allowed).toBe(true);
  });

  it('admits cost = burst + 1 on a fresh key and never cost > burst + 1', () => {
    expect(decide(undefined, T0, limit, 5).allowed).toBe(true);
    const never = decide(undefined, T0, limit, 6);
    expect(never.allowed).toBe(false);
    expect(never.retryAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(never.remaining).toBe(5); // nothing consumed: the whole burst is still there
    expect(decide(undefined, T0 + 1e9, limit, 6).allowed).toBe(false);
    expect(decide(undefined, T0, limit, Number.MAX_SAFE_INTEGER).allowed).toBe(false);
  });

  it('peeks with cost 0', () => {
    const { tat } = burst(undefined, T0, limit, 3);
    const d = decide(tat, T0, limit, 0);
    expect(d).toMatchObject({ allowed: true, tat, remaining: 2, retryAfterMs: 0, resetAfterMs: 300 });
  });

  it('honours burst 0 (one at a time) and the 1000/s burst-100 example', () => {
    expect(burst(undefined, T0, { rate: 1, period: 1000, burst: 0 }, 5).admitted).toBe(1);
    const big = { rate: 1000, period: 1000, burst: 100 };
    const { admitted, tat } = burst(undefined, T0, big, 500);
    expect(admitted).toBe(101);
    expect(burst(tat, T0 + 10, big, 500).admitted).toBe(10);
  });

  it('reserves within maxWait: admitted with the delay to its slot, the state advanced as for an admission', () => {
    const limit = { rate: 10, period: 1000, burst: 1 }; // T = 100 ms, capacity 200 ms
    const full = burst(undefined, T0, limit, 2).tat as number;
    const edge = decide(full, T0, limit, 1, 100); // conforms exactly maxWait from now
    expect(edge).toEqual({
      allowed: true,
      tat: full + 100_000,
      remaining: 0,
      retryAfterMs: 0,
      resetAfterMs: 300,
      delayMs: 100,
    });
    expect(decide(edge.tat, T0, limit, 1, 199)).toMatchObject({ allowed: false, retryAfterMs: 200, remaining: 0 });
    expect(decide(edge.tat, T0, limit, 1, 200)).toMatchObject({ allowed: true, delayMs: 200, tat: full + 200_000 });
    // A fraction of a millisecond to wait is rounded up: never admitted before its slot.
    expect(decide(full, T0 + 0.5, limit, 1, 100).delayMs).toBe(100);
    // A peek on a key held past its capacity by reservations is refused, with nothing remaining (never below 0).
    expect(decide(edge.tat, T0, limit, 0)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 100 });
    // cost > burst + 1 waits for nothing; maxWait must be whole milliseconds.
    expect(decide(undefined, T0, limit, 3, 10_000)).toMatchObject({ allowed: false, retryAfterMs: Infinity });
    expect(() => decide(undefined, T0, limit, 1, 1.5)).toThrow(/maxWait/);
  });

  it('refuses negative or fractional costs', () => {
    expect(() => decide(undefined, T0, limit, -1)).toThrow();
    expect(() => decide(undefined, T0, limit, 1.5)).toThrow();
  });
});
