import type { Clock } from '../core/index.js';
import type { RateDecision } from '../ratelimit/index.js';

interface Waiter {
  attempt: () => RateDecision;
  resolve: (decision: RateDecision) => void;
  deadline: number;
}

/**
 * Delays requests over a limit instead of refusing them at once: one FIFO queue per key (at most `maxQueue`), each
 * waiter gives up at its own deadline (`maxWait` after it arrived). Queues of different keys run on their own timers,
 * so a key with a long queue never delays another key (fair across keys). Only the head of a queue retries, when its
 * limiter says the next request fits; newcomers never overtake a waiting request of the same key.
 *
 * @example
 * const throttle = new Throttle(systemClock);
 * const d = await throttle.wait(key, () => store.consumeSync(key, limit), first, { maxWait: 500, maxQueue: 100 });
 */
export class Throttle {
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private readonly clock: Clock) {}

  /** True while requests of `key` are waiting (a newcomer must queue behind them). */
  busy(key: string): boolean {
    return this.queues.has(key);
  }

  /** Requests of `key` waiting now. */
  queued(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  /** Requests waiting across every key. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /**
   * Queues a request whose last decision was `refused` (or that must wait its turn); resolves with the decision that
   * admitted it, or the refusal once it cannot be admitted within `maxWait` or the queue is full.
   */
  wait(
    key: string,
    attempt: () => RateDecision,
    refused: RateDecision,
    options: { maxWait: number; maxQueue: number },
  ): Promise<RateDecision> | RateDecision {
    const queue = this.queues.get(key);
    if (refused.retryAfterMs > options.maxWait || (queue?.length ?? 0) >= options.maxQueue) return refused;
    return new Promise((resolve) => {
      const waiter: Waiter = { attempt, resolve, deadline: this.clock.now() + options.maxWait };
      if (queue) {
        queue.push(waiter);
        return;
      }
      this.queues.set(key, [waiter]);
      this.schedule(key, refused.retryAfterMs);
    });
  }

  private schedule(key: string, ms: number): void {
    setTimeout(() => this.pump(key), Math.max(1, ms)).unref?.();
  }

  private pump(key: string): void {
    const queue = this.queues.get(key);
    while (queue && queue.length > 0) {
      const head = queue[0] as Waiter;
      const decision = head.attempt();
      if (decision.allowed) {
        queue.shift();
        head.resolve(decision);
        continue;
      }
      if (this.clock.now() + decision.retryAfterMs > head.deadline) {
        queue.shift();
        head.resolve(decision);
        continue;
      }
      this.schedule(key, decision.retryAfterMs);
      return;
    }
    this.queues.delete(key);
  }
}
