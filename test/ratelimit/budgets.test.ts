import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import {
  type Budget,
  type BudgetCost,
  type BudgetRefusal,
  Budgets,
  MemoryLimiterStore,
  type RateLimit,
} from '../../src/ratelimit/index.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const perMinute = (rate: number, burst = 0): RateLimit => ({ rate, period: 60_000, burst });

/** The error the budgets under test throw: it carries the refusal as is. */
class Refused extends Error {
  constructor(readonly refusal: BudgetRefusal) {
    super(`refused by ${refusal.budget}`);
  }
}

/** The refusal a call of the budgets throws; undefined when admitted. */
async function refusalOf(run: Promise<void>): Promise<BudgetRefusal | undefined> {
  try {
    await run;
    return undefined;
  } catch (err) {
    if (err instanceof Refused) return err.refusal;
    throw err;
  }
}

function setup(prefix = 'test:') {
  const clock = new ManualClock(T0);
  const store = new MemoryLimiterStore({ clock, maxKeys: 1000 });
  return { clock, store, budgets: new Budgets(store, prefix, (refusal) => new Refused(refusal)) };
}

describe('Budgets', () => {
  it('admit spends only the cost-1 budgets; check and spend spend nothing and one', async () => {
    const { store, budgets } = setup();
    const limit = perMinute(10, 4); // 5 at once
    const left = (key: string) => store.consumeSync(`test:${key}`, limit, 0).remaining;
    const list: BudgetCost[] = [
      { name: 'flood', key: 'req:a', limit, cost: 1 },
      { name: 'failed', key: 'fail:a', limit, cost: 0 },
    ];
    expect(await refusalOf(budgets.admit(list))).toBeUndefined();
    expect(await refusalOf(budgets.admit(list))).toBeUndefined();
    expect([left('req:a'), left('fail:a')]).toEqual([3, 5]);
    for (let i = 0; i < 10; i += 1) await budgets.check([{ name: 'failed', key: 'fail:a', limit }]);
    expect(left('fail:a')).toBe(5);
    await budgets.spend([
      { name: 'failed', key: 'fail:a', limit },
      { name: 'other', key: 'fail:b', limit },
    ]);
    expect([left('fail:a'), left('fail:b')]).toEqual([4, 4]);
  });

  it('check refuses once a budget is empty, with one emission interval; spend never refuses', async () => {
    const { clock, budgets } = setup();
    const failed: Budget[] = [{ name: 'failed', key: 'fail:a', limit: perMinute(4, 2) }]; // one per 15 s, 3 at once
    for (let i = 0; i < 3; i += 1) {
      expect(await refusalOf(budgets.check(failed))).toBeUndefined();
      await budgets.spend(failed);
    }
    expect(await refusalOf(budgets.check(failed))).toEqual({ budget: 'failed', retryAfterMs: 15_000 });
    await budgets.spend(failed); // over the limit: refused by the store, not thrown, and nothing spent
    clock.advance(14_999);
    expect(await refusalOf(budgets.check(failed))).toEqual({ budget: 'failed', retryAfterMs: 15_000 });
    clock.advance(1);
    expect(await refusalOf(budgets.check(failed))).toBeUndefined();
  });

  it('a spent budget refuses with the store’s retry time', async () => {
    const { clock, budgets } = setup();
    const sign: BudgetCost[] = [{ name: 'sign', key: 'sign:a', limit: perMinute(1), cost: 1 }];
    expect(await refusalOf(budgets.admit(sign))).toBeUndefined();
    clock.advance(15_000);
    expect(await refusalOf(budgets.admit(sign))).toEqual({ budget: 'sign', retryAfterMs: 45_000 });
    clock.advance(44_999);
    expect(await refusalOf(budgets.admit(sign))).toEqual({ budget: 'sign', retryAfterMs: 1 });
    clock.advance(1);
    expect(await refusalOf(budgets.admit(sign))).toBeUndefined();
  });

  it('throws the first refusing budget in the order given, deciding (and spending) every budget', async () => {
    const { store, budgets } = setup();
    const flood = perMinute(1000, 100);
    const failures: Budget<'address' | 'client'>[] = [
      { name: 'address', key: 'fail-addr:a', limit: perMinute(10) },
      { name: 'client', key: 'fail-client:c', limit: perMinute(20) },
    ];
    const request = (checked: Budget[]): BudgetCost[] => [
      { name: 'flood', key: 'req:a', limit: flood, cost: 1 },
      ...checked.map((budget) => ({ ...budget, cost: 0 as const })),
    ];
    await budgets.spend(failures); // burst 0: one failure empties both
    expect(await refusalOf(budgets.admit(request(failures)))).toEqual({ budget: 'address', retryAfterMs: 6_000 });
    // the refused request spent its flood cost all the same
    expect(store.consumeSync('test:req:a', flood, 0).remaining).toBe(100);
    expect(await refusalOf(budgets.admit(request(failures.slice(1))))).toEqual({
      budget: 'client',
      retryAfterMs: 3_000,
    });
    expect(store.consumeSync('test:req:a', flood, 0).remaining).toBe(99);
    // a flood refusal listed first wins over the empty failure budgets
    const tiny = perMinute(1);
    await budgets.admit([{ name: 'flood', key: 'req:b', limit: tiny, cost: 1 }]);
    const refusal = await refusalOf(
      budgets.admit([
        { name: 'flood', key: 'req:b', limit: tiny, cost: 1 },
        ...failures.map((budget) => ({ ...budget, cost: 0 as const })),
      ]),
    );
    expect(refusal).toEqual({ budget: 'flood', retryAfterMs: 60_000 });
  });

  it('counts under its prefix: the same key under another prefix is another budget', async () => {
    const { store, budgets } = setup('test:');
    const other = new Budgets(store, 'other:', (refusal) => new Refused(refusal));
    const limit = perMinute(1);
    const addr: Budget[] = [{ name: 'addr', key: 'addr:a', limit }];
    await budgets.spend(addr);
    expect(await refusalOf(budgets.check(addr))).toMatchObject({ budget: 'addr' });
    expect(await refusalOf(other.check(addr))).toBeUndefined();
    expect(store.consumeSync('test:addr:a', limit, 0).remaining).toBe(0);
    expect(store.consumeSync('other:addr:a', limit, 0).remaining).toBe(1);
    expect(store.consumeSync('addr:a', limit, 0).remaining).toBe(1);
  });
});
