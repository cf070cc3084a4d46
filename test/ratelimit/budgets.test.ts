import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { type Budget, Budgets, MemoryLimiterStore, type RateLimit } from '../../src/ratelimit/index.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const perMinute = (rate: number, burst = 0): RateLimit => ({ rate, period: 60_000, burst });

function setup() {
  const clock = new ManualClock(T0);
  const store = new MemoryLimiterStore({ clock, maxKeys: 1000 });
  return { clock, store, budgets: new Budgets(store, 'test:') };
}

describe('Budgets', () => {
  it('admits while every budget has room, and spends only the cost-1 ones', async () => {
    const { store, budgets } = setup();
    const list: Budget[] = [
      { name: 'flood', key: 'req:a', limit: perMinute(10, 4), cost: 1 },
      { name: 'failed', key: 'fail:a', limit: perMinute(10, 4), cost: 0 },
    ];
    expect(await budgets.take(list)).toBeUndefined();
    expect(await budgets.take(list)).toBeUndefined();
    // 5 at once (burst 4 + 1): two spent from the flood budget, none from the failure budget
    expect(store.consumeSync('test:req:a', perMinute(10, 4), 0).remaining).toBe(3);
    expect(store.consumeSync('test:fail:a', perMinute(10, 4), 0).remaining).toBe(5);
  });

  it('cost-0 checks never spend: a budget checked many times still admits its whole burst', async () => {
    const { budgets } = setup();
    const failed = (cost: 0 | 1): Budget[] => [{ name: 'failed', key: 'fail:a', limit: perMinute(1, 2), cost }];
    for (let i = 0; i < 20; i += 1) expect(await budgets.take(failed(0))).toBeUndefined();
    for (let i = 0; i < 3; i += 1) expect(await budgets.take(failed(1))).toBeUndefined();
    expect(await budgets.take(failed(1))).toEqual({ budget: 'failed', retryAfterMs: 60_000 });
  });

  it('returns the first refusing budget in the order given, deciding (and spending) every budget', async () => {
    const { store, budgets } = setup();
    const flood = perMinute(1000, 100);
    const failedAddress = perMinute(10);
    const failedClient = perMinute(20);
    const list = (cost: 0 | 1): Budget<'flood' | 'address' | 'client'>[] => [
      { name: 'flood', key: 'req:a', limit: flood, cost: 1 },
      { name: 'address', key: 'fail-addr:a', limit: failedAddress, cost },
      { name: 'client', key: 'fail-client:c', limit: failedClient, cost },
    ];
    // one failure empties both failure budgets (burst 0): the address budget, listed first, refuses
    await budgets.take(list(1).slice(1));
    expect(await budgets.take(list(0))).toEqual({ budget: 'address', retryAfterMs: 6_000 });
    // the refused request spent its flood cost all the same (1 taken of 101)
    expect(store.consumeSync('test:req:a', flood, 0).remaining).toBe(100);
    // without the address budget, the client budget refuses, with its own emission interval
    const [floodBudget, , clientBudget] = list(0);
    expect(await budgets.take([floodBudget!, clientBudget!])).toEqual({ budget: 'client', retryAfterMs: 3_000 });
  });

  it('a spent budget refuses with the store’s retry time; a checked one with one emission interval', async () => {
    const { clock, budgets } = setup();
    const sign: Budget = { name: 'sign', key: 'sign:a', limit: perMinute(1), cost: 1 };
    const failed: Budget = { name: 'failed', key: 'fail:a', limit: perMinute(4), cost: 1 };
    expect(await budgets.take([sign, failed])).toBeUndefined();
    clock.advance(15_000);
    expect(await budgets.take([sign])).toEqual({ budget: 'sign', retryAfterMs: 45_000 });
    // the failure budget (one per 15 s) was spent at T0 and refilled at T0 + 15 s: empty again after one more
    expect(await budgets.take([failed])).toBeUndefined();
    clock.advance(1_000);
    expect(await budgets.take([{ ...failed, cost: 0 }])).toEqual({ budget: 'failed', retryAfterMs: 15_000 });
    clock.advance(14_000);
    expect(await budgets.take([{ ...failed, cost: 0 }])).toBeUndefined();
    expect(await budgets.take([sign])).toEqual({ budget: 'sign', retryAfterMs: 30_000 });
    clock.advance(30_000);
    expect(await budgets.take([sign])).toBeUndefined();
  });

  it('counts under its prefix: the same key of another prefix is another budget', async () => {
    const { store, budgets } = setup();
    const other = new Budgets(store, 'other:');
    const limit = perMinute(1);
    const spend: Budget[] = [{ name: 'addr', key: 'addr:a', limit, cost: 1 }];
    expect(await budgets.take(spend)).toBeUndefined();
    expect(await budgets.take(spend)).toMatchObject({ budget: 'addr' });
    expect(await other.take(spend)).toBeUndefined();
    expect(store.consumeSync('test:addr:a', limit, 0).remaining).toBe(0);
    expect(store.consumeSync('other:addr:a', limit, 0).remaining).toBe(0);
    expect(store.consumeSync('addr:a', limit, 0).remaining).toBe(1);
  });
});
