import type { LimiterStore, RateLimit } from './ports.js';
import { emissionIntervalMs } from './retry_after.js';

/**
 * One abuse budget: its `key` (below the prefix of its {@link Budgets}), its `limit`, and `name`, which says which
 * budget refused.
 */
export interface Budget<Name extends string = string> {
  name: Name;
  key: string;
  limit: RateLimit;
}

/** A budget and what a request spends from it: 1 (a flood budget, spent on every request) or 0 (only checked). */
export interface BudgetCost<Name extends string = string> extends Budget<Name> {
  cost: 0 | 1;
}

/** The first budget that refused a request, and the milliseconds until it would admit it. */
export interface BudgetRefusal<Name extends string = string> {
  budget: Name;
  retryAfterMs: number;
}

/**
 * Abuse budgets counted in a {@link LimiterStore} under one key prefix (`identity:`, `ca:`, ...). The budgets of a
 * request are decided in one `consumeMany` (one round trip on Redis), in the order given, and the first refusal is
 * thrown as the error `refuse` builds from it (the domain's own error, with its own Retry-After rounding). A budget
 * spent at cost 1 refuses when the store does not admit the request, with the store's retry time; a budget checked at
 * cost 0 refuses once it is empty (less than one request left), with one emission interval of its limit. Every budget
 * of the list is decided, whichever refuses: a refused request still spends its cost-1 budgets, as a flood should.
 *
 * Failure budgets are checked (cost 0) before the work, so guessing stays slow, and spent after a failure.
 *
 * @example
 * const budgets = new Budgets(store, 'signin:', (refusal) => throttled(retryAfterSeconds(refusal.retryAfterMs)));
 * const failures = [{ name: 'address', key: `addr:${addressKey(address)}`, limit: failedPerAddress }];
 * await budgets.admit([{ name: 'flood', key: `req:${addressKey(address)}`, limit: perAddress, cost: 1 }]);
 * await budgets.check(failures);          // before the password is hashed
 * if (!ok) await budgets.spend(failures); // after it did not match
 */
export class Budgets<Name extends string = string> {
  constructor(
    private readonly store: LimiterStore,
    private readonly prefix: string,
    private readonly refuse: (refusal: BudgetRefusal<Name>) => Error,
  ) {}

  /** Decides `budgets` at their costs in one call and throws the first refusal. */
  async admit(budgets: readonly BudgetCost<Name>[]): Promise<void> {
    const decisions = await this.store.consumeMany(
      budgets.map(({ key, limit, cost }) => ({ key: `${this.prefix}${key}`, limit, cost })),
    );
    for (const [i, { name, limit, cost }] of budgets.entries()) {
      const decision = decisions[i];
      if (decision === undefined) continue;
      if (cost === 0 && decision.remaining < 1)
        throw this.refuse({ budget: name, retryAfterMs: emissionIntervalMs(limit) });
      if (cost > 0 && !decision.allowed) throw this.refuse({ budget: name, retryAfterMs: decision.retryAfterMs });
    }
  }

  /** Checks `budgets` without spending them (cost 0), and throws the first that is empty. */
  async check(budgets: readonly Budget<Name>[]): Promise<void> {
    await this.admit(budgets.map((budget) => ({ ...budget, cost: 0 })));
  }

  /** Spends one from each of `budgets` (a failure), refusing nothing. */
  async spend(budgets: readonly Budget<Name>[]): Promise<void> {
    await this.store.consumeMany(budgets.map(({ key, limit }) => ({ key: `${this.prefix}${key}`, limit, cost: 1 })));
  }
}
