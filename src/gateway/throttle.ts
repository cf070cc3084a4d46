import type { Clock } from '../core/index.js';
import type { RateDecision } from '../ratelimit/index.js';
import type { ClientPresence } from './reservations.js';

interface Waiter {
  attempt: () => RateDecision;
  /** Resolves with the decision that admitted or refused it, or `undefined` when its client left. */
  resolve: (decision: RateDecision | undefined) => void;
  deadline: number;
  /** Stops watching the client (once the waiter has its answer). */
  unwatch: () => void;
}

interface Queue {
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Delays requests over a limit instead of refusing them at once: one FIFO queue per key (at most `maxQueue`), each
 * waiter gives up at its own deadline (`maxWait` after it arrived). Queues of different keys run on their own timers,
 * so a key with a long queue never delays another key (fair across keys). Only the head of a queue retries, when its
 * limiter says the next request fits; newcomers never overtake a waiting request of the same key. A waiter whose
 * client leaves is taken out of its queue at once (it holds no place and is never admitted).
 *
 * @example
 * const throttle = new Throttle(systemClock);
 * const d = await throttle.wait(key, () => store.consumeSync(key, limit), first, { maxWait: 500, maxQueue: 100 }, res);
 * if (d === undefined) return; // the client left while it waited
 */
export class Throttle {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly clock: Clock) {}

  /** True while requests of `key` are waiting (a newcomer must queue behind them). */
  busy(key: string): boolean {
    return this.queues.has(key);
  }

  /** Requests of `key` waiting now. */
  queued(key: string): number {
    return this.queues.get(key)?.waiters.length ?? 0;
  }

  /** Requests waiting across every key. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.waiters.length;
    return n;
  }

  /**
   * Queues a request whose last decision was `refused` (or that must wait its turn); resolves with the decision that
   * admitted it, the refusal once it cannot be admitted within `maxWait` or the queue is full, or `undefined` as soon
   * as `client` leaves while it waits.
   */
  wait(
    key: string,
    attempt: () => RateDecision,
    refused: RateDecision,
    options: { maxWait: number; maxQueue: number },
    client?: ClientPresence,
  ): Promise<RateDecision | undefined> | RateDecision | undefined {
    const queue = this.queues.get(key);
    if (refused.retryAfterMs > options.maxWait || (queue?.waiters.length ?? 0) >= options.maxQueue) return refused;
    if (client?.destroyed) return undefined;
    return new Promise((resolve) => {
      const gone = () => this.leave(key, waiter);
      const waiter: Waiter = {
        attempt,
        resolve,
        deadline: this.clock.now() + options.maxWait,
        unwatch: () => client?.removeListener('close', gone),
      };
      client?.once('close', gone);
      if (queue) {
        queue.waiters.push(waiter);
        return;
      }
      const fresh: Queue = { waiters: [waiter], timer: undefined };
      this.queues.set(key, fresh);
      this.schedule(key, fresh, refused.retryAfterMs);
    });
  }

  /** A waiter whose client left: out of its queue, answered `undefined`; an emptied queue stops its timer. */
  private leave(key: string, waiter: Waiter): void {
    const queue = this.queues.get(key);
    const at = queue?.waiters.indexOf(waiter) ?? -1;
    if (queue === undefined || at === -1) return;
    queue.waiters.splice(at, 1);
    waiter.resolve(undefined);
    if (queue.waiters.length === 0) {
      clearTimeout(queue.timer);
      this.queues.delete(key);
    }
  }

  private schedule(key: string, queue: Queue, ms: number): void {
    queue.timer = setTimeout(() => this.pump(key, queue), Math.max(1, ms));
    queue.timer.unref?.();
  }

  private pump(key: string, queue: Queue): void {
    const { waiters } = queue;
    while (waiters.length > 0) {
      const head = waiters[0] as Waiter;
      const decision = head.attempt();
      if (decision.allowed || this.clock.now() + decision.retryAfterMs > head.deadline) {
        waiters.shift();
        head.unwatch();
        head.resolve(decision);
        continue;
      }
      this.schedule(key, queue, decision.retryAfterMs);
      return;
    }
    if (this.queues.get(key) === queue) this.queues.delete(key);
  }
}
