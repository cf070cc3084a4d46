/** What a sleeping request watches to learn that its client left (the request's ServerResponse fits). */
export interface ClientPresence {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
}

/** How a sleep is timed: Node's timers (unref'd) by default; a test can hold sleeps with its own. */
export interface SleepTimer {
  set(wake: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const NODE_TIMER: SleepTimer = {
  set(wake, ms) {
    const timer = setTimeout(wake, ms);
    timer.unref?.();
    return timer;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * The requests of this process holding a reservation of a throttled global limit (a slot the Redis script granted in
 * the future, src/adapters/redis/gcra_script.ts) while they sleep until it comes: at most `maxQueue` per key. A place
 * is taken before the decision is asked, so requests deciding in the same tick cannot overshoot the bound, and given
 * back when the decision needs no wait, when the wait is over, or as soon as the client leaves (its slot stays spent,
 * as in nginx: the reservation is not handed back to Redis).
 *
 * @example
 * const reservations = new Reservations();
 * const maxWait = reservations.take(key, 100) ? 500 : 0; // a full queue asks without a wait
 * const stayed = await reservations.sleep(decision.delayMs, res); // false: the client left
 * reservations.release(key);
 */
export class Reservations {
  private readonly held = new Map<string, number>();

  constructor(private readonly timer: SleepTimer = NODE_TIMER) {}

  /** Requests of `key` holding a place now. */
  holding(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Takes a place for `key` when fewer than `max` are held; false when the queue is full. */
  take(key: string, max: number): boolean {
    const n = this.held.get(key) ?? 0;
    if (n >= max) return false;
    this.held.set(key, n + 1);
    return true;
  }

  /** Gives a place of `key` back. */
  release(key: string): void {
    const n = this.held.get(key) ?? 0;
    if (n <= 1) this.held.delete(key);
    else this.held.set(key, n - 1);
  }

  /** Resolves true after `ms`, or false as soon as `client` leaves (its timer is cleared: nothing stays behind). */
  sleep(ms: number, client: ClientPresence | undefined): Promise<boolean> {
    if (client?.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const gone = () => {
        this.timer.clear(handle);
        resolve(false);
      };
      const handle = this.timer.set(() => {
        client?.removeListener('close', gone);
        resolve(true);
      }, ms);
      client?.once('close', gone);
    });
  }
}
