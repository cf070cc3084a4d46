/**
 * Per-upstream admission: at most `maxConcurrent` requests in flight and `maxQueue` waiting (FIFO); past both the
 * caller sheds (503 with `x-gatehouse-overloaded: true`). A released slot passes straight to the oldest waiter.
 *
 * @example
 * const slot = bulkhead.acquire();
 * if (slot === false) return shed();
 * if (slot !== true) await slot;
 * try { await forward(); } finally { bulkhead.release(); }
 */
export class Bulkhead {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueue: number,
  ) {}

  /** `true` = go now; a promise = queued, go when it resolves; `false` = full, shed. */
  acquire(): true | Promise<void> | false {
    if (this.active < this.maxConcurrent) {
      this.active += 1;
      return true;
    }
    if (this.waiting.length >= this.maxQueue) return false;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Gives a slot back (once per successful acquire). */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }
}
