import type { Clock } from './clock.js';
import { GatehouseError, isGatehouseError } from './errors.js';
import type { Logger } from './logger.js';

/** How often a background loop whose storage stays away says so again (with the count of failures so far). */
export const FAILURE_REMINDER_MS = 60_000;

/** True when `err`, or an error it wraps (`cause`), says the storage cannot be reached (ERR_STORE_UNAVAILABLE). */
export function isStorageAway(err: unknown): boolean {
  for (let at = err, depth = 0; at !== undefined && at !== null && depth < 5; depth += 1) {
    if (isGatehouseError(at, 'ERR_STORE_UNAVAILABLE')) return true;
    at = (at as { cause?: unknown }).cause;
  }
  return false;
}

function reasonOf(err: unknown): string {
  if (err instanceof GatehouseError && err.detail !== undefined) return `${err.message}: ${err.detail}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The failures in a row of one background loop (revocation refresh, API key reload, CA refresh...), so that a loop
 * whose storage went away logs once, not on every tick: the first "storage away" failure is a warning naming the loop
 * and the reason (`event: loop_failing`), then nothing but a reminder every {@link FAILURE_REMINDER_MS} with the count
 * (`loop_still_failing`), and one info line when an attempt succeeds again (`loop_recovered`:
 * `revocation refresh recovered after 12 failures, 60s`). Any other failure is logged every time at the loop's
 * `level`, as before, and counts in the streak.
 *
 * @example
 * const streak = new FailureStreak({ loop: 'revocation refresh', clock, logger });
 * setInterval(() => void streak.run(() => revocations.refresh()), everyMs);
 */
export class FailureStreak {
  private failures = 0;
  private since = 0;
  private awayReportedAt: number | undefined;

  constructor(
    private readonly o: {
      /** The loop's name in the log lines: `<loop> failed`, `<loop> recovered after ...`. */
      loop: string;
      clock: Clock;
      logger: Logger;
      /** The level of a failure that is not "storage away" (default warn). */
      level?: 'warn' | 'error';
      remindEveryMs?: number;
    },
  ) {}

  /** Runs one attempt and records how it went; never rejects. */
  async run(attempt: () => Promise<unknown>): Promise<void> {
    try {
      await attempt();
    } catch (err) {
      this.failed(err);
      return;
    }
    this.succeeded();
  }

  /** Records a failed attempt (logging it as described on the class). */
  failed(err: unknown): void {
    const { loop, clock, logger } = this.o;
    const now = clock.now();
    if (this.failures === 0) this.since = now;
    this.failures += 1;
    const reason = reasonOf(err);
    if (!isStorageAway(err)) {
      logger[this.o.level ?? 'warn']({ event: 'loop_failed', loop, err: reason }, `${loop} failed`);
      return;
    }
    if (this.awayReportedAt === undefined) {
      this.awayReportedAt = now;
      logger.warn({ event: 'loop_failing', loop, err: reason }, `${loop} failed (storage unavailable)`);
    } else if (now - this.awayReportedAt >= (this.o.remindEveryMs ?? FAILURE_REMINDER_MS)) {
      this.awayReportedAt = now;
      const failures = this.failures;
      logger.warn(
        { event: 'loop_still_failing', loop, err: reason, failures, forMs: now - this.since },
        `${loop} still failing (storage unavailable): ${failures} failures, ${seconds(now - this.since)}`,
      );
    }
  }

  /** Records a successful attempt: ends a streak of failures with one info line. */
  succeeded(): void {
    if (this.failures === 0) return;
    const { loop, clock, logger } = this.o;
    const failures = this.failures;
    const forMs = clock.now() - this.since;
    this.failures = 0;
    this.awayReportedAt = undefined;
    logger.info(
      { event: 'loop_recovered', loop, failures, forMs },
      `${loop} recovered after ${failures} failure${failures === 1 ? '' : 's'}, ${seconds(forMs)}`,
    );
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}
