/**
 * Time, injected everywhere. Domain code never calls Date.now(): it asks a Clock, so that expiry and rotation
 * decisions can be tested at their edges.
 *
 * @example
 * const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
 * clock.advance(15 * 60_000);
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: for tests and simulations. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start = 0) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  /** Moves time forward by `ms` (negative values are refused). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock does not go back');
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/** Seconds since the epoch (the unit of JWT and X.509 times). */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
