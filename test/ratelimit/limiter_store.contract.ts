import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/core/index.js';
import type { LimiterStore, RateLimit } from '../../src/ratelimit/index.js';

/** What a factory hands the suite: the store, and the ManualClock driving it when time is controllable. */
export interface LimiterStoreFixture {
  store: LimiterStore;
  /** Present when the store decides on this clock; absent when it reads real (e.g. Redis server) time. */
  clock?: ManualClock;
  /** Releases what the fixture created (keys, clients). */
  cleanup?: () => Promise<void>;
}

/** Long enough that real time passing during a test never refills a key. */
const SLOW: RateLimit = { rate: 1, period: 60_000, burst: 10 };

/**
 * The contract every LimiterStore passes. Count-based checks run on every store; time-based checks (edges, refill)
 * run when the fixture exposes its ManualClock.
 *
 * @example
 * limiterStoreContract('MemoryLimiterStore', async () => { const clock = new ManualClock(0); return { store: new MemoryLimiterStore({ clock, maxKeys: 1000 }), clock }; });
 */
export function limiterStoreContract(name: string, factory: () => Promise<LimiterStoreFixture>): void {
  describe(`LimiterStore contract: ${name}`, () => {
    let fixture: LimiterStoreFixture;
    let store: LimiterStore;
    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    afterEach(async () => {
      await store.close();
      await fixture.cleanup?.();
    });

    it('admits exactly burst + 1 of 50 sent at once, with retryAfter on every rejection', async () => {
      const decisions = await Promise.all(Array.from({ length: 50 }, () => store.consume('burst', SLOW)));
      const admitted = decisions.filter((d) => d.allowed);
      expect(admitted).toHaveLength(11);
      for (const d of decisions.filter((x) => !x.allowed)) {
        expect(d.retryAfterMs).toBeGreaterThan(0);
        expect(d.retryAfterMs).toBeLessThanOrEqual(60_000);
        expect(d.remaining).toBe(0);
      }
      expect(admitted.map((d) => d.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('keeps the order of consumeMany, and a key named twice sees its earlier consumption', async () => {
      const limit = { rate: 1, period: 60_000, burst: 2 };
      const out = await store.consumeMany([
        { key: 'a', limit },
        { key: 'b', limit, cost: 3 },
        { key: 'a', limit, cost: 2 },
        { key: 'a', limit },
        { key: 'b', limit },
        { key: 'c', limit, cost: 4 },
      ]);
      expect(out.map((d) => d.allowed)).toEqual([true, true, true, false, false, false]);
      expect(out.map((d) => d.remaining)).toEqual([2, 0, 0, 0, 0, 3]);
      expect(out[5]?.retryAfterMs).toBe(Number.POSITIVE_INFINITY);
      expect(await store.consumeMany([])).toEqual([]);
    });

    it('keeps distinct keys independent', async () => {
      const limit = { rate: 1, period: 60_000, burst: 0 };
      expect((await store.consume('x', limit)).allowed).toBe(true);
      expect((await store.consume('x', limit)).allowed).toBe(false);
      expect((await store.consume('y', limit)).allowed).toBe(true);
      expect((await store.consume('x:y', limit)).allowed).toBe(true);
    });

    it('charges cost, never admits cost > burst + 1, and peeks with cost 0', async () => {
      const limit = { rate: 1, period: 60_000, burst: 4 };
      expect((await store.consume('k', limit, 6)).allowed).toBe(false);
      expect(await store.consume('k', limit, 0)).toMatchObject({ allowed: true, remaining: 5, resetAfterMs: 0 });
      const d = await store.consume('k', limit, 3);
      expect(d).toMatchObject({ allowed: true, remaining: 2, retryAfterMs: 0 });
      expect((await store.consume('k', limit, 3)).allowed).toBe(false);
      expect((await store.consume('k', limit, 2)).allowed).toBe(true);
    });

    it('forgets a key on reset', async () => {
      const limit = { rate: 1, period: 60_000, burst: 0 };
      await store.consume('r', limit);
      expect((await store.consume('r', limit)).allowed).toBe(false);
      await store.reset('r');
      expect((await store.consume('r', limit)).allowed).toBe(true);
      await store.reset('never-seen');
    });

    it('refuses a malformed limit', async () => {
      await expect(store.consume('bad', { rate: 0, period: 1000, burst: 0 })).rejects.toThrow(/invalid rate limit/);
    });

    it('decides on the same clock: edges just before, at and after the retry time (controllable clock)', async () => {
      const clock = fixture.clock;
      if (!clock) return expect(clock).toBeUndefined(); // real-time store: covered by the count-based checks
      const limit = { rate: 10, period: 1000, burst: 4 };
      for (let i = 0; i < 5; i += 1) expect((await store.consume('e', limit)).allowed).toBe(true);
      const rejected = await store.consume('e', limit);
      expect(rejected).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100, resetAfterMs: 500 });
      clock.advance(99);
      expect(await store.consume('e', limit)).toEqual({
        allowed: false,
        remaining: 0,
        retryAfterMs: 1,
        resetAfterMs: 401,
      });
      clock.advance(1);
      expect(await store.consume('e', limit)).toEqual({
        allowed: true,
        remaining: 0,
        retryAfterMs: 0,
        resetAfterMs: 500,
      });
      clock.advance(500);
      const refilled = await Promise.all(Array.from({ length: 8 }, () => store.consume('e', limit)));
      expect(refilled.filter((d) => d.allowed)).toHaveLength(5);
    });

    it('reserves a later slot within maxWait: distinct delays one interval apart, then refusal past it', async () => {
      // One per 20 s, burst 1, maxWait 1 min: 2 admitted now, 3 reserved 20, 40 and 60 s ahead, the rest refused.
      const limit = { rate: 1, period: 20_000, burst: 1 };
      const ask = () => ({ key: 'w', limit, maxWait: 60_000 });
      const out = await store.consumeMany(Array.from({ length: 7 }, ask));
      expect(out.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false]);
      expect(out.slice(0, 2).every((d) => d.delayMs === undefined)).toBe(true);
      const delays = out.slice(2, 5).map((d) => d.delayMs as number);
      // Real-time stores may have moved on a little between decisions: never early, never past maxWait.
      for (const [i, delay] of delays.entries()) {
        expect(delay).toBeGreaterThan(20_000 * (i + 1) - 1000);
        expect(delay).toBeLessThanOrEqual(20_000 * (i + 1));
      }
      for (const d of out.slice(2, 5)) expect(d).toMatchObject({ remaining: 0, retryAfterMs: 0 });
      // Refused past maxWait: the exact time until the slot would be admitted without a wait (80 s ahead).
      expect(out[5]).toMatchObject({ allowed: false, remaining: 0 });
      expect(out[5]?.retryAfterMs).toBeGreaterThan(79_000);
      expect(out[5]?.retryAfterMs).toBeLessThanOrEqual(80_000);
      expect(out[5]?.delayMs).toBeUndefined();
      // Without maxWait the same key is refused with the same retry (reservations count as admissions).
      expect((await store.consume('w', limit)).retryAfterMs).toBeGreaterThan(79_000);
      // maxWait 0 is no reservation; a malformed one is refused before anything is counted.
      expect((await store.consumeMany([{ key: 'w0', limit, maxWait: 0 }]))[0]?.delayMs).toBeUndefined();
      await expect(store.consumeMany([{ key: 'w1', limit, maxWait: 0.5 }])).rejects.toThrow(
        /invalid rate-limit maxWait/,
      );
      await expect(store.consumeMany([{ key: 'w1', limit, maxWait: -1 }])).rejects.toThrow(
        /invalid rate-limit maxWait/,
      );
      expect((await store.consume('w1', limit)).remaining).toBe(1);
    });

    it('hands out a reservation at its exact slot, and admits at once again when it has passed (controllable clock)', async () => {
      const clock = fixture.clock;
      if (!clock) return expect(clock).toBeUndefined();
      const limit = { rate: 10, period: 1000, burst: 0 }; // one per 100 ms
      const ask = (maxWait: number) => store.consumeMany([{ key: 'x', limit, maxWait }]).then((d) => d[0]);
      expect(await ask(250)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: 100 });
      expect(await ask(250)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: 200, delayMs: 100 });
      clock.advance(30);
      // Next slot 200 ms after the start, 170 ms from now; the one after, 270 ms: past maxWait by 20 ms.
      expect(await ask(250)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: 270, delayMs: 170 });
      expect(await ask(250)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 270, resetAfterMs: 270 });
      expect(await ask(270)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: 370, delayMs: 270 });
      clock.advance(370);
      expect(await ask(250)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: 100 });
    });

    it('rounds a fractional interval up to whole microseconds (controllable clock)', async () => {
      const clock = fixture.clock;
      if (!clock) return expect(clock).toBeUndefined();
      const limit = { rate: 3, period: 1000, burst: 0 };
      expect((await store.consume('f', limit)).allowed).toBe(true);
      expect((await store.consume('f', limit)).retryAfterMs).toBe(334);
      clock.advance(333);
      expect((await store.consume('f', limit)).allowed).toBe(false);
      clock.advance(1);
      expect((await store.consume('f', limit)).allowed).toBe(true);
    });
  });
}
