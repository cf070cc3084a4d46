import type { LimiterStore, RateLimit } from './ports.js';
import { emissionIntervalMs } from './retry_after.js';

/**
 * One abuse budget of a request: `key` (below the prefix of its {@link Budgets}), its `limit`, and what the request
 * spends from it: `cost` 1 spends (a flood budget on every request, a failure budget after a failure), `cost` 0 only
 * checks (a failure budget before the work). `name` says which budget refused.
 */
export interface Budget<Name extends string = string> {
  name: Name;
  key: string;
  limit: RateLimit;
  cost: 0 | 1;
}

/** The first budget of a request that refused it, and the milliseconds until it would admit the request. */
export interface BudgetRefusal<Name extends string = string> {
  budget: Name;
  retryAfterMs: number;
}

/**
 * Abuse budgets counted in a {@link LimiterStore} under one key prefix (`identity:`, `ca:`, ...): a request's budgets
 * are decided in one `consumeMany` (one round trip on Redis), in the order given, and the first refusal is returned. A
 * budget spent at cost 1 refuses when it does not admit the request (waiting its own retry time); a budget checked at
 * cost 0 refuses once it is empty (less than one request left), waiting one emission interval of its limit. Every
 * budget of the list is decided, whichever refuses: a refused request still spends its cost-1 budgets, as a flood
 * should. The domain throttles name their budgets and turn a refusal into their own error and Retry-After.
 *
 * @example
 * const budgets = new Budgets(store, 'identity:');
 * const refusal = await budgets.take([
 *   { name: 'flood', key: `req:${addressKey(address)}`, limit: perAddress, cost: 1 },
 *   { name: 'failed', key: `fail-addr:${addressKey(address)}`, limit: failedPerAddress, cost: 0 },
 * ]);
 * if (refusal) throw refused(retryAfterSeconds(refusal.retryAfterMs));
 */
export class Budgets {
  constructor(
    private readonly store: LimiterStore,
    private readonly prefix: string,
  ) {}

  /** Decides `budgets` in one call, spending their costs, and returns the first refusal (undefined: admitted). */
  async take<Name extends string>(budgets: readonly Budget<Name>[]): Promise<BudgetRefusal<Name> | undefined> {
    const decisions = await this.store.consumeMany(
      budgets.map(({ key, limit, cost }) => ({ key: `${this.prefix}${key}`, limit, cost })),
    );
    for (const [i, budget] of budgets.entries()) {
      const decision = decisions[i];
      if (decision === undefined) continue;
      if (budget.cost === 0 && decision.remaining < 1) {
        return { budget: budget.name, retryAfterMs: emissionIntervalMs(budget.limit) };
      }
      if (budget.cost > 0 && !decision.allowed) return { budget: budget.name, retryAfterMs: decision.retryAfterMs };
    }
    return undefined;
  }
}
