import type { Clock, Logger } from '../core/index.js';

/** Why the shedding stage refused a request: the `reason` label of `gatehouse_gateway_shed_total`. */
export type ShedReason = 'overloaded' | 'circuit_open';

interface ShedWindow {
  upstream: string;
  reason: ShedReason;
  openedAt: number;
  /** Refusals seen in the window after the one that was logged. */
  suppressed: number;
}

/** Fields of the line of the first refusal of a window. */
export interface ShedRefusal {
  upstream: string;
  reason: ShedReason;
  route: string;
  code: string;
  requestId: string;
}

/**
 * The warn lines of shed requests (503 of a full upstream or an open breaker), aggregated so a flood of refusals
 * cannot flood the log: the first refusal per upstream and reason in a window of `windowMs` (by the injected clock) is
 * logged at once; the others in that window are only counted, and reported as `suppressed: N` by the line of the next
 * refusal after the window, or by one `gateway_shed_suppressed` line when the window has ended (a timer per window with
 * refusals to report, never per request) or at {@link flush}. The hot path is a Map lookup and a counter; metrics
 * count every refusal elsewhere.
 *
 * @example
 * const shedLog = new ShedLog(logger, clock);
 * shedLog.refused({ upstream: 'orders', reason: 'overloaded', route: 'orders', code, requestId });
 */
export class ShedLog {
  private readonly windows = new Map<string, ShedWindow>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly windowMs = 1000,
  ) {}

  /** Records one refusal: logs it when its window is new, else counts it. */
  refused(r: ShedRefusal): void {
    const now = this.clock.now();
    const key = `${r.reason} ${r.upstream}`;
    const window = this.windows.get(key);
    if (window !== undefined && now - window.openedAt < this.windowMs) {
      window.suppressed += 1;
      if (window.suppressed === 1) this.schedule();
      return;
    }
    const suppressed = window?.suppressed ?? 0;
    this.windows.set(key, { upstream: r.upstream, reason: r.reason, openedAt: now, suppressed: 0 });
    this.logger.warn(
      {
        event: 'gateway_shed',
        upstream: r.upstream,
        reason: r.reason,
        route: r.route,
        code: r.code,
        request_id: r.requestId,
        ...(suppressed > 0 ? { suppressed } : {}),
      },
      'upstream refused a request',
    );
  }

  /**
   * Reports the refusals counted in windows that have ended (every window when `all`), one line per upstream and
   * reason, and forgets those windows.
   */
  flush(all = false): void {
    const now = this.clock.now();
    for (const [key, w] of this.windows) {
      if (!all && now - w.openedAt < this.windowMs) continue;
      this.windows.delete(key);
      if (w.suppressed === 0) continue;
      this.logger.warn(
        { event: 'gateway_shed_suppressed', upstream: w.upstream, reason: w.reason, suppressed: w.suppressed },
        'upstream refusals not logged one by one',
      );
    }
  }

  /** Stops the timer and reports every refusal still counted. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush(true);
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
      for (const w of this.windows.values()) if (w.suppressed > 0) return this.schedule(); // a window still open
    }, this.windowMs);
    this.timer.unref?.();
  }
}
