import { describe, expect, it } from 'vitest';
import { ManualClock, isGatehouseError } from '../../src/core/index.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  RollingWindow,
  type BreakerStateChange,
  type CircuitBreakerOptions,
} from '../../src/ratelimit/index.js';

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new ManualClock(1_000_000);
  const changes: BreakerStateChange[] = [];
  const breaker = new CircuitBreaker({
    clock,
    openDuration: 30_000,
    onStateChange: (c) => changes.push(c),
    ...options,
  });
  /** Runs one call with the given outcome; returns whether it was admitted. */
  const call = (success: boolean): boolean => {
    const p = breaker.tryAcquire();
    if (p.ok) p.done(success);
    return p.ok;
  };
  return { clock, breaker, changes, call };
}

describe('CircuitBreaker: consecutive failures', () => {
  it('opens after exactly N failures in a row; a success resets the streak', () => {
    const { breaker, changes, call } = setup({ consecutiveFailures: 3 });
    expect(breaker.state).toBe('closed');
    call(false);
    call(false);
    call(true);
    call(false);
    call(false);
    expect(breaker.state).toBe('closed');
    call(false);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open', reason: 'consecutive-failures', at: 1_000_000 }]);
  });

  it('rejects while open with the exact time left, then goes half-open at openDuration', () => {
    const { clock, breaker, changes, call } = setup({ consecutiveFailures: 1 });
    call(false);
    clock.advance(10_000);
    expect(breaker.tryAcquire()).toEqual({ ok: false, retryAfterMs: 20_000 });
    clock.advance(19_999);
    expect(breaker.tryAcquire()).toEqual({ ok: false, retryAfterMs: 1 });
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(changes.at(-1)).toEqual({ from: 'open', to: 'half-open', reason: 'open-elapsed', at: 1_030_000 });
  });
});

describe('CircuitBreaker: half-open trials', () => {
  function halfOpen(options: Partial<CircuitBreakerOptions> = {}) {
    const s = setup({ consecutiveFailures: 1, ...options });
    s.call(false);
    s.clock.advance(30_000);
    return s;
  }

  it('admits at most halfOpenMaxTrials concurrent trials', () => {
    const { breaker } = halfOpen({ halfOpenMaxTrials: 2, successesToClose: 3 });
    const a = breaker.tryAcquire();
    const b = breaker.tryAcquire();
    const c = breaker.tryAcquire();
    expect([a.ok, b.ok, c.ok]).toEqual([true, true, false]);
    expect(c).toEqual({ ok: false, retryAfterMs: 30_000 });
    if (!a.ok || !b.ok) throw new Error('unreachable');
    a.done(true); // frees a slot, not yet closed
    expect(breaker.state).toBe('half-open');
    const d = breaker.tryAcquire();
    expect(d.ok).toBe(true);
    expect(breaker.tryAcquire().ok).toBe(false);
    b.done(true);
    if (d.ok) d.done(true);
    expect(breaker.state).toBe('closed');
  });

  it('a trial failure re-opens for a full openDuration and ignores the other trials', () => {
    const { clock, breaker, changes } = halfOpen({ halfOpenMaxTrials: 2 });
    const a = breaker.tryAcquire();
    const b = breaker.tryAcquire();
    if (!a.ok || !b.ok) throw new Error('expected two trials');
    clock.advance(500);
    a.done(false);
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({ from: 'half-open', to: 'open', reason: 'trial-failed' });
    b.done(true); // from the previous half-open: ignored
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toEqual({ ok: false, retryAfterMs: 30_000 });
    clock.advance(30_000);
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire().ok).toBe(true); // fresh trial slots
  });

  it('successesToClose successes close it and reset the streak and the window', () => {
    const { clock, breaker, changes, call } = setup({
      consecutiveFailures: 2,
      errorRate: { threshold: 0.5, minimumRequests: 4, windowMs: 10_000, buckets: 10 },
      successesToClose: 2,
    });
    call(true);
    call(true);
    call(false);
    call(false); // streak of 2 (and 2/4 failed)
    expect(breaker.state).toBe('open');
    clock.advance(30_000);
    expect(breaker.state).toBe('half-open');
    call(true);
    expect(breaker.state).toBe('half-open');
    call(true);
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toMatchObject({ from: 'half-open', to: 'closed', reason: 'trials-succeeded' });
    // cleared: had the window kept its 2/4, one more failure would have opened it by error rate
    call(false);
    call(true);
    call(true);
    expect(breaker.state).toBe('closed');
    call(false); // 2/4 in the fresh window, and no streak of 2
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)?.reason).toBe('error-rate');
  });

  it('release() frees a trial slot without counting', () => {
    const { breaker } = halfOpen();
    const p = breaker.tryAcquire();
    if (!p.ok) throw new Error('expected a trial');
    expect(breaker.tryAcquire().ok).toBe(false);
    p.release();
    p.done(false); // after release: ignored
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire().ok).toBe(true);
  });

  it('ignores a second done() on the same permit', () => {
    const { breaker } = halfOpen({ successesToClose: 2, halfOpenMaxTrials: 1 });
    const p = breaker.tryAcquire();
    if (!p.ok) throw new Error('expected a trial');
    p.done(true);
    p.done(true);
    expect(breaker.state).toBe('half-open');
  });
});

describe('CircuitBreaker: error rate over a rolling window', () => {
  const errorRate = { threshold: 0.5, minimumRequests: 4, windowMs: 10_000, buckets: 10 };

  it('waits for minimumRequests, then opens at the threshold (inclusive)', () => {
    const { breaker, changes, call } = setup({ errorRate });
    call(false);
    call(false);
    call(false);
    expect(breaker.state).toBe('closed'); // 3/3 failed but below minimumRequests
    call(true);
    expect(breaker.state).toBe('open'); // 3/4 ≥ 0.5
    expect(changes[0]?.reason).toBe('error-rate');
  });

  it('stays closed just below the threshold', () => {
    const { breaker, call } = setup({ errorRate: { ...errorRate, threshold: 0.3 } });
    for (let i = 0; i < 8; i += 1) call(true);
    call(false);
    call(false);
    expect(breaker.state).toBe('closed'); // 2/10 < 0.3
    call(false);
    expect(breaker.state).toBe('closed'); // 3/11 ≈ 0.27 < 0.3
    call(false);
    expect(breaker.state).toBe('open'); // 4/12 ≈ 0.33
  });

  it('slides: failures older than the window no longer count', () => {
    const { clock, breaker, call } = setup({ errorRate });
    call(false);
    call(false);
    call(false); // t = 0, bucket 0
    clock.advance(9_999); // still in the window (bucket 9 of the same 10)
    call(true);
    expect(breaker.state).toBe('open');

    const s = setup({ errorRate });
    s.call(false);
    s.call(false);
    s.call(false);
    s.clock.advance(10_000); // bucket 0 has fallen out
    s.call(true);
    s.call(false);
    s.call(true);
    expect(s.breaker.state).toBe('closed'); // window holds 3 requests: below minimumRequests
    s.call(true);
    expect(s.breaker.state).toBe('closed'); // 1/4 failed
  });

  it('counts only the permits of the current state', () => {
    const { breaker, call } = setup({ consecutiveFailures: 2 });
    const slow = breaker.tryAcquire(); // admitted while closed
    call(false);
    call(false);
    expect(breaker.state).toBe('open');
    if (slow.ok) slow.done(true); // ends after the circuit opened: ignored
    expect(breaker.state).toBe('open');
  });
});

describe('RollingWindow', () => {
  it('keeps counts for the current bucket and buckets − 1 before it', () => {
    const w = new RollingWindow(1000, 4); // buckets of 250 ms
    w.record(0, true);
    w.record(249, false);
    w.record(250, true);
    expect(w.totals(999)).toEqual({ requests: 3, failures: 2 });
    expect(w.totals(1000)).toEqual({ requests: 1, failures: 1 }); // bucket [0, 250) dropped
    expect(w.totals(1250)).toEqual({ requests: 0, failures: 0 });
    w.record(5000, true); // reuses a slot
    expect(w.totals(5000)).toEqual({ requests: 1, failures: 1 });
    w.clear();
    expect(w.totals(5000)).toEqual({ requests: 0, failures: 0 });
  });
});

describe('CircuitBreaker: execute and validation', () => {
  it('reports outcomes of execute and throws CircuitOpenError when open', async () => {
    const { breaker } = setup({ consecutiveFailures: 2 });
    expect(await breaker.execute(async () => 42)).toBe(42);
    await expect(breaker.execute(async () => ({ status: 503 }), { failed: (r) => r.status >= 500 })).resolves.toEqual({
      status: 503,
    });
    await expect(
      breaker.execute(
        async () => {
          throw new Error('client aborted');
        },
        { counts: () => false },
      ),
    ).rejects.toThrow('client aborted');
    expect(breaker.state).toBe('closed'); // streak still 1
    await expect(
      breaker.execute(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
    const err = await breaker.execute(async () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect(isGatehouseError(err, 'ERR_CIRCUIT_OPEN')).toBe(true);
    expect((err as CircuitOpenError).retryAfterMs).toBe(30_000);
    expect((err as CircuitOpenError).status).toBe(503);
  });

  it('refuses malformed options with ERR_CONFIG_INVALID', () => {
    const clock = new ManualClock();
    const bad: CircuitBreakerOptions[] = [
      { clock, openDuration: 1000 },
      { clock, openDuration: 1000, consecutiveFailures: 0 },
      { clock, openDuration: 0, consecutiveFailures: 1 },
      { clock, openDuration: 1000, errorRate: { threshold: 0, minimumRequests: 1, windowMs: 1000, buckets: 10 } },
      { clock, openDuration: 1000, errorRate: { threshold: 1.5, minimumRequests: 1, windowMs: 1000, buckets: 10 } },
      { clock, openDuration: 1000, errorRate: { threshold: 0.5, minimumRequests: 1, windowMs: 1000, buckets: 3 } },
      { clock, openDuration: 1000, consecutiveFailures: 1, halfOpenMaxTrials: 0 },
      { clock, openDuration: 1000, consecutiveFailures: 1, successesToClose: 1.5 },
    ];
    for (const options of bad) {
      const err = (() => {
        try {
          new CircuitBreaker(options);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    }
  });
});
