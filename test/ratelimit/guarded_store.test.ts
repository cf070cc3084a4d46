import { describe, expect, it } from 'vitest';
import { GatehouseError, ManualClock, MemoryLogger } from '../../src/core/index.js';
import { GuardedStore, MemoryLimiterStore, type ConsumeRequest, type LimiterStore } from '../../src/ratelimit/index.js';

const limit = { rate: 1, period: 60_000, burst: 2 };
const request: ConsumeRequest[] = [{ key: 'k', limit }];

/** A store whose next answers are scripted: a decision, a thrown error, or no answer at all. */
function scripted(clock: ManualClock) {
  const inner = new MemoryLimiterStore({ clock, maxKeys: 100 });
  const state = { calls: 0, next: 'ok' as 'ok' | 'raw' | 'invalid' | 'hung' };
  const store: LimiterStore = {
    consume: (key, l, cost) => inner.consume(key, l, cost),
    async consumeMany(requests) {
      state.calls += 1;
      if (state.next === 'raw') throw new Error('ECONNRESET');
      if (state.next === 'invalid') throw new GatehouseError('ERR_CONFIG_INVALID', { message: 'bad cost' });
      if (state.next === 'hung') return new Promise(() => {});
      return inner.consumeMany(requests);
    },
    reset: (key) => inner.reset(key),
    close: () => inner.close(),
  };
  return { store, state };
}

function guard(timeoutMs = 1000) {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const logger = new MemoryLogger();
  const { store, state } = scripted(clock);
  const guarded = new GuardedStore({
    store,
    clock,
    logger,
    timeoutMs,
    retryMs: 500,
    down: { event: 't_down', message: 'down' },
    recovered: { event: 't_up', message: 'up' },
  });
  return { clock, logger, state, guarded };
}

describe('GuardedStore', () => {
  it('turns a raw failure into ERR_STORE_UNAVAILABLE, then refuses without calling the store until retryMs passed', async () => {
    const { clock, logger, state, guarded } = guard();
    state.next = 'raw';
    await expect(guarded.consumeMany(request)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(guarded.up).toBe(false);
    state.next = 'ok';
    await expect(guarded.consumeMany(request)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(state.calls).toBe(1);
    clock.advance(500);
    expect((await guarded.consumeMany(request))[0]?.allowed).toBe(true);
    expect(state.calls).toBe(2);
    expect(guarded.up).toBe(true);
    expect(logger.lines.map((l) => l.event)).toEqual(['t_down', 't_up']);
  });

  it('counts a timeout as a failure and an invalid request as none', async () => {
    const slow = guard(20);
    slow.state.next = 'hung';
    await expect(slow.guarded.consumeMany(request)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(slow.guarded.up).toBe(false);

    const strict = guard();
    strict.state.next = 'invalid';
    await expect(strict.guarded.consumeMany(request)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(strict.guarded.up).toBe(true);
  });
});
