import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { CallerGoneError, type AttemptObserver, type ExchangeOutcome } from './answer_exchange.js';
import { ReplayableBody } from './replayable_body.js';
import { RetriableAnswer, type RetryPolicy, type RetryReason } from './retry_policy.js';

/** What the owner of a {@link RequestAttempts} does for it: send, budget, schedule, settle. */
export interface AttemptHooks {
  /**
   * Sends one attempt with `body`, dispatched with an exchange that reports to {@link RequestAttempts.done} and drops
   * the statuses of {@link RequestAttempts.retryStatus}. `attempt` counts from 0.
   */
  send(body: Readable | Buffer | null, attempt: number): void;
  /** A place in the upstream's retry budget (the overflow counted when there is none). */
  reserve(): boolean;
  /** Retry number `retry` (from 1) is decided, for `reason`: call `go` when it should be sent (at once, after a backoff). */
  retrying(reason: RetryReason, retry: number, go: () => void): void;
  /** An attempt's answer head went to the caller: no other attempt follows (its place in the budget given back). */
  answered?(): void;
  /** The request is over, with the outcome of its last attempt (its places in the budget already given back). */
  settle(outcome: ExchangeOutcome): void;
}

/**
 * One proxied request's attempts under a {@link RetryPolicy}, shared by the gateway's upstreams and the sidecar's: an
 * attempt that failed in a way the policy retries goes again while attempts are left and the budget has a place, with
 * the body kept while it streamed ({@link ReplayableBody}: up to 64 KiB). An attempt that failed while a small body of
 * a declared length was still arriving waits for the rest of it before the decision. An answer of a retried status is
 * dropped, its place in the budget taken before anything is dropped (and handed on to the retry). A retry holds its
 * place until its answer's head went to the caller (a long answer after it is no retry under way). A caller that
 * left ends the request before the next attempt is sent.
 *
 * @example
 * const attempts = new RequestAttempts(policy, { method, res, body, declaredLength: declaredLength(req), lateFirstBody: true }, {
 *   send: (body) => pool.dispatch({ ...opts, body }, new AnswerExchange(res, attempts.done, attempts)),
 *   reserve: () => policy.reserve(inFlight),
 *   retrying: (reason, n, go) => setTimeout(go, policy.backoffMs(n)),
 *   settle: (outcome) => account(outcome),
 * });
 * attempts.start();
 */
export class RequestAttempts implements AttemptObserver {
  /** The statuses dropped for another attempt while one may follow (undefined: none is). */
  readonly retryStatus: ((status: number) => boolean) | undefined;
  private readonly replay: ReplayableBody | undefined;
  private readonly firstBody: Readable | Buffer | null;
  private retried = 0;
  /** A place in the retry budget is held (the retry under way, or an answer being dropped). */
  private held = false;
  /** An answer of a retried status is being dropped (its place taken before). */
  private dropping = false;
  private over = false;

  /**
   * @param request.lateFirstBody the first attempt reads the body from a pass-through fed beside the copy: undici's
   *   HTTP/1.1 pools read a body only once connected (an HTTP/2 exchange pipes it as it is dispatched).
   */
  constructor(
    private readonly policy: RetryPolicy,
    private readonly request: {
      method: string;
      res: ServerResponse;
      body: Readable | null;
      declaredLength: number | undefined;
      lateFirstBody: boolean;
    },
    private readonly hooks: AttemptHooks,
  ) {
    const { body } = request;
    this.replay =
      body !== null && policy.attempts > 0
        ? new ReplayableBody(body, { declaredLength: request.declaredLength })
        : undefined;
    this.firstBody = this.replay !== undefined && request.lateFirstBody ? this.replay.lateReader() : body;
    this.retryStatus = policy.attempts === 0 || !policy.retriesStatuses ? undefined : this.dropsStatus;
  }

  /** Sends the first attempt. */
  start(): void {
    this.go(this.firstBody);
  }

  /** An attempt's outcome: another attempt, or the request settled. */
  readonly done = (outcome: ExchangeOutcome): void => {
    if (this.over) return;
    const { policy, replay, request } = this;
    const carried = this.dropping && 'error' in outcome && outcome.error instanceof RetriableAnswer;
    this.dropping = false;
    const res = request.res;
    const retriable =
      this.retried < policy.attempts && 'error' in outcome && !outcome.clientGone && !res.headersSent && !res.destroyed;
    const reason = retriable ? policy.reason(outcome.error, request.method) : undefined;
    if (reason !== undefined && !carried && replay?.pending === true) {
      // Failed while a small body of a declared length was still arriving (a host refusing the connection before the
      // upload is in): the decision waits for the rest of it (while bytes keep coming).
      replay.whenWhole(() => this.done(outcome));
      return;
    }
    const body = reason === undefined ? undefined : this.nextBody();
    // The retry that just ended hands its place on to the next, unless its dropped answer did already.
    if (reason !== undefined && body !== undefined && (carried || this.takePlace())) {
      this.retried += 1;
      this.hooks.retrying(reason, this.retried, () => this.go(body));
      return;
    }
    this.over = true;
    this.giveBack();
    this.hooks.settle(outcome);
  };

  answered(): void {
    this.giveBack();
    this.hooks.answered?.();
  }

  /** Ends the attempts without an outcome (the caller was answered otherwise): the places in the budget given back. */
  abandon(): void {
    this.over = true;
    this.giveBack();
  }

  private go(body: Readable | Buffer | null): void {
    if (this.request.res.destroyed) {
      this.done({ error: new CallerGoneError(), clientGone: true });
      return;
    }
    this.hooks.send(body, this.retried);
  }

  /** The body of another attempt: none, the kept copy, or undefined when it cannot be sent again (yet). */
  private nextBody(): Buffer | null | undefined {
    return this.request.body === null ? null : this.replay?.bytes;
  }

  private readonly dropsStatus = (status: number): boolean => {
    if (this.retried >= this.policy.attempts || !this.policy.retriesStatus(this.request.method, status)) return false;
    if (this.nextBody() === undefined) return false; // a body not whole yet, or too large to keep
    // A retry under way hands its place to the next attempt; a first attempt takes one (or its answer is relayed).
    if (!this.held) {
      if (!this.hooks.reserve()) return false;
      this.held = true;
    }
    this.dropping = true;
    return true;
  };

  private takePlace(): boolean {
    this.giveBack();
    if (!this.hooks.reserve()) return false;
    this.held = true;
    return true;
  }

  private giveBack(): void {
    if (this.held) this.policy.settled();
    this.held = false;
  }
}
