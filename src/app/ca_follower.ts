import { FailureStreak, type Clock, type Logger } from '../core/index.js';
import type { Authority } from '../pki/index.js';

/** How often a process re-reads the stored CA (a rotation by `gatehouse up`, the CA or another replica). */
export const CA_REFRESH_MS = 10_000;

/**
 * Keeps a process's Authority on the stored CA: every `everyMs` (default {@link CA_REFRESH_MS}) it reloads the CA
 * record when its version changed, then calls `afterRefresh(changed)`. Without it a process that does not rotate the
 * CA itself keeps the intermediate and bundle it loaded at start: once the CA has rotated past them its own listener
 * certificate can no longer be renewed (ERR_PKI_CA_INVALID) and it trusts an outdated bundle. The CA listener and the
 * identity and KMS components started alone use it. The timer is unref'd; `stop` clears it.
 *
 * @example
 * const follower = new CaFollower({ authority, clock, logger });
 * follower.start();
 * cleanups.push(() => follower.stop());
 */
export class CaFollower {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      authority: Authority;
      clock: Clock;
      logger: Logger;
      /** Runs after every refresh, `changed` telling whether the stored CA had changed. */
      afterRefresh?: (changed: boolean) => Promise<void> | void;
    },
  ) {}

  /** Reloads the stored CA now; resolves with whether it had changed and the bundle sequence it now has. */
  async refresh(): Promise<{ changed: boolean; bundleSequence: number }> {
    const { authority, logger } = this.o;
    const changed = await authority.refresh();
    if (changed) {
      logger.info(
        { bundleSequence: authority.bundleSequence, intermediate: authority.status().intermediate.serialNumber },
        'the stored CA changed (rotation elsewhere); following it',
      );
    }
    await this.o.afterRefresh?.(changed);
    return { changed, bundleSequence: authority.bundleSequence };
  }

  /**
   * Refreshes every `everyMs` until {@link stop}; a failed refresh is logged (an error; a warning once while the
   * storage stays away: {@link FailureStreak}) and retried on the next tick.
   */
  start(everyMs = CA_REFRESH_MS): void {
    this.stop();
    const { clock, logger } = this.o;
    const streak = new FailureStreak({ loop: 'CA refresh', clock, logger, level: 'error' });
    this.timer = setInterval(() => void streak.run(() => this.refresh()), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
