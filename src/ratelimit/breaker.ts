import { GatehouseError, type Clock } from '../core/index.js';
import { RollingWindow } from './rolling_window.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Why the breaker moved. */
export type BreakerReason =
  'consecutive-failures' | 'error-rate' | 'open-elapsed' | 'trial-failed' | 'trials-succeeded';

export interface BreakerStateChange {
  from: BreakerState;
  to: BreakerState;
  reason: BreakerReason;
  /** Clock reading (ms) of the transition. */
  at: number;
}

/** Options of {@link CircuitBreaker}. At least one trigger (`consecutiveFailures` or `errorRate`) is required. */
export interface CircuitBreakerOptions {
  clock: Clock;
  /** Opens after this many failures in a row while closed (Envoy `consecutive_5xx` is 5). Omit to disable. */
  consecutiveFailures?: number;
  /** Opens when `failures / requests ≥ threshold` over the rolling window, once it holds `minimumRequests`. */
  errorRate?: { threshold: number; minimumRequests: number; windowMs: number; buckets: number };
  /** How long (ms) the circuit stays open before admitting trials. */
  openDuration: number;
  /** Concurrent trial requests admitted while half-open (default 1). */
  halfOpenMaxTrials?: number;
  /** Successful trials that close the circuit (default 1). */
  successesToClose?: number;
  onStateChange?: (change: BreakerStateChange) => void;
}

/** A permit: call `done` (or `release`) exactly once; later calls are ignored. */
export interface BreakerPermit {
  ok: true;
  /** Reports the outcome. */
  done(success: boolean): void;
  /** Gives the permit (and its half-open trial slot) back without counting an outcome, e.g. on a client abort. */
  release(): void;
}

export interface BreakerRejection {
  ok: false;
  /** ms until a trial may be admitted; while every half-open trial slot is taken, `openDuration` (the worst case). */
  retryAfterMs: number;
}

/** What {@link CircuitBreaker.execute} counts as a failure. */
export interface ExecuteOptions<T> {
  /** A result that is a failure anyway (e.g. an upstream 503). Default: none. */
  failed?: (result: T) => boolean;
  /** Whether a thrown error counts as a failure; one that does not count is neither failure nor success (e.g. a client abort). Default: every error counts. */
  counts?: (err: unknown) => boolean;
}

/**
 * Thrown by {@link CircuitBreaker.execute} when the circuit rejects: ERR_CIRCUIT_OPEN (503), with `retryAfterMs`.
 *
 * @example
 * if (err instanceof CircuitOpenError) reply.header('Retry-After', Math.ceil(err.retryAfterMs / 1000));
 */
export class CircuitOpenError extends GatehouseError {
  constructor(readonly retryAfterMs: number) {
    super('ERR_CIRCUIT_OPEN', { detail: `retry after ${retryAfterMs} ms` });
  }
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { message: `circuit breaker: ${message}` });
}

const positiveInt = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 1;

function validate(o: CircuitBreakerOptions): void {
  if (o.consecutiveFailures === undefined && o.errorRate === undefined) {
    throw invalid('set consecutiveFailures, errorRate or both');
  }
  if (o.consecutiveFailures !== undefined && !positiveInt(o.consecutiveFailures)) {
    throw invalid('consecutiveFailures must be a positive integer');
  }
  if (o.errorRate) {
    const { threshold, minimumRequests, windowMs, buckets } = o.errorRate;
    if (!(threshold > 0 && threshold <= 1)) throw invalid('errorRate.threshold must be in (0, 1]');
    if (!positiveInt(minimumRequests)) throw invalid('errorRate.minimumRequests must be a positive integer');
    if (!positiveInt(windowMs) || !positiveInt(buckets) || windowMs % buckets !== 0) {
      throw invalid('errorRate.windowMs and buckets must be positive integers, windowMs a multiple of buckets');
    }
  }
  if (!positiveInt(o.openDuration)) throw invalid('openDuration must be a positive integer (ms)');
  for (const name of ['halfOpenMaxTrials', 'successesToClose'] as const) {
    if (o[name] !== undefined && !positiveInt(o[name])) throw invalid(`${name} must be a positive integer`);
  }
}

/**
 * A circuit breaker (closed → open → half-open → closed), pure logic driven by the injected clock, no timers.
 *
 * - closed: everything is admitted. It opens after `consecutiveFailures` failures in a row, or when the failure ratio
 *   over the rolling window reaches `errorRate.threshold` with at least `errorRate.minimumRequests` outcomes.
 * - open: everything is rejected with `retryAfterMs` until `openDuration` has passed; then it is half-open (the move
 *   happens on the next `tryAcquire` or `state` read).
 * - half-open: at most `halfOpenMaxTrials` trials run at once. One failed trial re-opens it for a full
 *   `openDuration`; `successesToClose` successful trials close it with a cleared window and failure streak.
 *
 * Outcomes reported for a permit granted in an earlier state (say a slow call admitted while closed that ends after
 * the circuit opened) are ignored: only the current state's own permits move it.
 *
 * @example
 * const breaker = new CircuitBreaker({ clock, consecutiveFailures: 5, openDuration: 30_000 });
 * const permit = breaker.tryAcquire();
 * if (!permit.ok) return reply.code(503).header('Retry-After', Math.ceil(permit.retryAfterMs / 1000)).send();
 * try { const res = await forward(); permit.done(res.statusCode < 500); } catch { permit.done(false); }
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  /** Bumped on every transition; a permit only counts in the generation that granted it. */
  private generation = 0;
  private openedAt = 0;
  private streak = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  private readonly window: RollingWindow | undefined;
  private readonly options: CircuitBreakerOptions;
  private readonly maxTrials: number;
  private readonly toClose: number;

  constructor(options: CircuitBreakerOptions) {
    validate(options);
    this.options = options;
    this.maxTrials = options.halfOpenMaxTrials ?? 1;
    this.toClose = options.successesToClose ?? 1;
    const rate = options.errorRate;
    this.window = rate ? new RollingWindow(rate.windowMs, rate.buckets) : undefined;
  }

  /** The state now (an open circuit whose `openDuration` has passed reads, and becomes, half-open). */
  get state(): BreakerState {
    this.refresh(this.options.clock.now());
    return this.current;
  }

  /**
   * Asks to send one request.
   *
   * @example
   * const p = breaker.tryAcquire();
   * if (p.ok) p.done(await call());
   */
  tryAcquire(): BreakerPermit | BreakerRejection {
    const now = this.options.clock.now();
    this.refresh(now);
    if (this.current === 'open') {
      return { ok: false, retryAfterMs: this.openedAt + this.options.openDuration - now };
    }
    if (this.current === 'half-open') {
      if (this.trialsInFlight >= this.maxTrials) return { ok: false, retryAfterMs: this.options.openDuration };
      this.trialsInFlight += 1;
    }
    const generation = this.generation;
    const trial = this.current === 'half-open';
    let settled = false;
    const settle = (outcome: boolean | undefined): void => {
      if (settled) return;
      settled = true;
      if (generation !== this.generation) return;
      if (trial) this.trialOutcome(outcome);
      else if (outcome !== undefined) this.closedOutcome(outcome);
    };
    return { ok: true, done: (success: boolean) => settle(success), release: () => settle(undefined) };
  }

  /**
   * Runs `fn` under a permit and reports its outcome; throws {@link CircuitOpenError} when rejected.
   *
   * @example
   * const res = await breaker.execute(() => upstream.request(req), { failed: (r) => r.statusCode >= 500 });
   */
  async execute<T>(fn: () => Promise<T>, options: ExecuteOptions<T> = {}): Promise<T> {
    const permit = this.tryAcquire();
    if (!permit.ok) throw new CircuitOpenError(permit.retryAfterMs);
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (options.counts?.(err) ?? true) permit.done(false);
      else permit.release();
      throw err;
    }
    permit.done(!(options.failed?.(result) ?? false));
    return result;
  }

  private refresh(now: number): void {
    if (this.current === 'open' && now >= this.openedAt + this.options.openDuration) {
      this.trialsInFlight = 0;
      this.trialSuccesses = 0;
      this.move('half-open', 'open-elapsed', now);
    }
  }

  private closedOutcome(success: boolean): void {
    const now = this.options.clock.now();
    this.streak = success ? 0 : this.streak + 1;
    const limit = this.options.consecutiveFailures;
    if (limit !== undefined && this.streak >= limit) return this.open('consecutive-failures', now);
    const rate = this.options.errorRate;
    if (!this.window || !rate) return;
    this.window.record(now, !success);
    const { requests, failures } = this.window.totals(now);
    if (requests >= rate.minimumRequests && failures / requests >= rate.threshold) this.open('error-rate', now);
  }

  private trialOutcome(success: boolean | undefined): void {
    const now = this.options.clock.now();
    this.trialsInFlight -= 1;
    if (success === undefined) return;
    if (!success) return this.open('trial-failed', now);
    this.trialSuccesses += 1;
    if (this.trialSuccesses >= this.toClose) {
      this.streak = 0;
      this.window?.clear();
      this.move('closed', 'trials-succeeded', now);
    }
  }

  private open(reason: BreakerReason, now: number): void {
    this.openedAt = now;
    this.move('open', reason, now);
  }

  private move(to: BreakerState, reason: BreakerReason, at: number): void {
    const from = this.current;
    this.current = to;
    this.generation += 1;
    this.options.onStateChange?.({ from, to, reason, at });
  }
}
