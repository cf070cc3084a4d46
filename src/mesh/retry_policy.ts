/** Retry settings of an upstream (the gateway's `upstreams[].retries`, the sidecar's `outbound.upstreams[].retries`). */
export interface RetrySettings {
  /** Further attempts after a failed one (0 = never retry). */
  attempts: number;
  /** `connect-failure`, `refused-stream`, `reset`, and 5xx statuses to retry. */
  on: ReadonlyArray<RetryCondition>;
  /** Retries in flight at most this fraction of the upstream's requests in flight (always at least 3). */
  budget: number;
}

/** What `retries.on` may name: a kind of failure, or a 5xx status. */
export type RetryCondition = 'connect-failure' | 'refused-stream' | 'reset' | number;

/**
 * Why a failed attempt is tried again (the `reason` label of `gatehouse_gateway_retries_total` and of
 * `gatehouse_sidecar_outbound_retries_total`).
 */
export type RetryReason = 'connect-failure' | 'refused-stream' | 'reset' | 'status';

/** The code of {@link RefusedStreamError}. */
const REFUSED_STREAM = 'ERR_HTTP2_REFUSED_STREAM';

/**
 * An HTTP/2 upstream refused the request's stream (RST_STREAM with REFUSED_STREAM, or a GOAWAY whose last stream id is
 * below it), or the stream was never sent (its connection went away first): RFC 9113 §8.7 guarantees the server did
 * not process it, so any method may go again.
 */
export class RefusedStreamError extends Error {
  readonly code = REFUSED_STREAM;
  constructor() {
    super('upstream refused the stream (REFUSED_STREAM): the request was not processed');
    this.name = 'RefusedStreamError';
  }
}

/**
 * An upstream's answer whose status the route retries (`retries.on` lists it): the attempt is dropped before anything
 * reached the client, and the request goes to the next host.
 */
export class RetriableAnswer extends Error {
  constructor(readonly status: number) {
    super(`upstream answered ${status}`);
    this.name = 'RetriableAnswer';
  }
}

/** The connection to the host was never made: nothing was sent, any request may go elsewhere. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * The connect timeout: on HTTP/1.1 nothing was sent before it. An HTTP/2 upstream's connect timeout runs until the
 * server's SETTINGS, and node writes the request's HEADERS as soon as TCP (and TLS) connect: the host may have the
 * request, so there it counts as a reset.
 */
const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';

/**
 * The connection broke before an answer came: the host may have acted on the request, so only methods that are
 * idempotent (RFC 9110 §9.2.2) go again. undici's `other side closed` on a kept-alive connection the host had just
 * closed (the race every keep-alive proxy meets) is one.
 */
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_GOAWAY_SESSION']);

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Retries in flight always allowed, whatever the budget (Envoy's `min_retry_concurrency`). */
const MIN_RETRY_CONCURRENCY = 3;

/** First backoff before trying the same host again (Envoy's `base_interval`), doubled per retry, full jitter. */
const BASE_BACKOFF_MS = 25;

/**
 * An upstream's retry policy (the gateway's `upstreams[].retries`, the sidecar's `outbound.upstreams[].retries`), as
 * nginx's `proxy_next_upstream`, Kong's `retries`, Envoy's retry policy and Istio's default one do it: a request whose
 * attempt failed before any answer reached the client goes again (to the next host not ejected, at the gateway), up
 * to `attempts` more times, when
 * - the connection could not be made (`connect-failure`: nothing was sent; any method),
 * - an HTTP/2 upstream refused the stream (`refused-stream`: not processed, RFC 9113 §8.7; any method),
 * - the connection broke before the answer's head (`reset`; idempotent methods only),
 * - the host answered a status listed in `on` (idempotent methods only; the answer is dropped unread).
 * A request with a body goes again only with the copy its caller kept (`ReplayableBody`: bodies up to 64 KiB
 * that had ended when the attempt failed). Timeouts are not retried (a slow host asked twice is twice as slow).
 * Retries in flight are held to `budget` of the upstream's requests in flight (at least 3), so a failing upstream is
 * not hit with a retry storm. The gateway and the sidecar share it.
 *
 * @example
 * const retry = new RetryPolicy(config.retries);
 * const reason = retry.reason(err, req.method); // undefined: not retried
 */
export class RetryPolicy {
  readonly attempts: number;
  private readonly connect: boolean;
  private readonly refusedStream: boolean;
  private readonly reset: boolean;
  private readonly statuses: ReadonlySet<number>;
  private readonly budget: number;
  private inFlight = 0;

  /** @param http2 the upstream speaks HTTP/2 (`h2c`, `h2`): a connect timeout may follow a request already sent. */
  constructor(
    config: RetrySettings,
    private readonly http2 = false,
  ) {
    this.attempts = config.attempts;
    this.connect = config.on.includes('connect-failure');
    this.refusedStream = config.on.includes('refused-stream');
    this.reset = config.on.includes('reset');
    this.statuses = new Set(config.on.filter((o): o is number => typeof o === 'number'));
    this.budget = config.budget;
  }

  /** Retries of this upstream's requests under way (attempts after the first, not yet settled). */
  get retriesInFlight(): number {
    return this.inFlight;
  }

  /** Whether any answer status is retried (`on` lists one). */
  get retriesStatuses(): boolean {
    return this.statuses.size > 0;
  }

  /** Whether an answer of `status` to `method` is dropped for another attempt (when the budget allows one). */
  retriesStatus(method: string, status: number): boolean {
    return this.statuses.has(status) && IDEMPOTENT.has(method);
  }

  /** Why the failed attempt of `method` may go again, or undefined. */
  reason(error: Error, method: string): RetryReason | undefined {
    if (error instanceof RetriableAnswer) return 'status';
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string') return undefined;
    if (code === REFUSED_STREAM) {
      // Without `refused-stream` listed, a refused stream is still a reset (as it was, and as Envoy's `reset` is).
      if (this.refusedStream) return 'refused-stream';
      return this.reset && IDEMPOTENT.has(method) ? 'reset' : undefined;
    }
    const sent = code === CONNECT_TIMEOUT ? this.http2 : !CONNECT_FAILURES.has(code);
    if (!sent) return this.connect ? 'connect-failure' : undefined;
    if (this.reset && (RESETS.has(code) || code === CONNECT_TIMEOUT) && IDEMPOTENT.has(method)) return 'reset';
    return undefined;
  }

  /**
   * Takes a place for one retry if the budget has one: retries in flight below `budget` × the upstream's requests in
   * flight, or below 3. Give it back with {@link settled}.
   */
  reserve(requestsInFlight: number): boolean {
    if (this.inFlight >= Math.max(MIN_RETRY_CONCURRENCY, Math.floor(this.budget * requestsInFlight))) return false;
    this.inFlight += 1;
    return true;
  }

  /** A retry reserved with {@link reserve} ended (or was never sent). */
  settled(): void {
    this.inFlight -= 1;
  }

  /** The wait before retry `n` (1-based) on the host that just failed: 25 ms doubled per retry, full jitter. */
  backoffMs(n: number, random: () => number = Math.random): number {
    return Math.floor(random() * BASE_BACKOFF_MS * 2 ** (n - 1));
  }
}
