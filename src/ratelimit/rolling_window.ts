/**
 * Outcome counts over a rolling window of `buckets` fixed buckets of `windowMs / buckets` ms each, driven by the time
 * the caller passes (no timers). The window is the current bucket and the `buckets − 1` before it, so it spans between
 * `windowMs − bucketMs` and `windowMs` of history; a bucket's counts vanish once it falls out.
 *
 * @example
 * const w = new RollingWindow(10_000, 10);
 * w.record(clock.now(), false);
 * w.totals(clock.now()); // { requests: 1, failures: 1 }
 */
export class RollingWindow {
  private readonly bucketMs: number;
  private readonly ids: number[];
  private readonly requests: number[];
  private readonly failures: number[];

  constructor(
    windowMs: number,
    private readonly buckets: number,
  ) {
    this.bucketMs = windowMs / buckets;
    this.ids = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
    this.requests = new Array<number>(buckets).fill(0);
    this.failures = new Array<number>(buckets).fill(0);
  }

  /** Counts one outcome at time `now` (ms). */
  record(now: number, failed: boolean): void {
    const id = Math.floor(now / this.bucketMs);
    const slot = ((id % this.buckets) + this.buckets) % this.buckets;
    if (this.ids[slot] !== id) {
      this.ids[slot] = id;
      this.requests[slot] = 0;
      this.failures[slot] = 0;
    }
    this.requests[slot] = (this.requests[slot] ?? 0) + 1;
    if (failed) this.failures[slot] = (this.failures[slot] ?? 0) + 1;
  }

  /** Requests and failures within the window ending at `now` (ms). */
  totals(now: number): { requests: number; failures: number } {
    const current = Math.floor(now / this.bucketMs);
    let requests = 0;
    let failures = 0;
    for (let slot = 0; slot < this.buckets; slot += 1) {
      const id = this.ids[slot] as number;
      if (id > current - this.buckets && id <= current) {
        requests += this.requests[slot] ?? 0;
        failures += this.failures[slot] ?? 0;
      }
    }
    return { requests, failures };
  }

  /** Forgets every count. */
  clear(): void {
    this.ids.fill(Number.NEGATIVE_INFINITY);
    this.requests.fill(0);
    this.failures.fill(0);
  }
}
