import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Pool } from 'undici';
import {
  GatehouseError,
  isGatehouseError,
  upstreamFailureKind,
  type Clock,
  type HistogramCells,
  type Logger,
} from '../core/index.js';
import { CircuitBreaker, CircuitOpenError, type BreakerPermit } from '../ratelimit/index.js';
import { Bulkhead } from './bulkhead.js';
import type { UpstreamConfig } from './gateway_config.js';
import { FAILED_OUTCOME, outcomeIndex, type GatewayMetrics, type UpstreamOutcomes } from './gateway_metrics.js';
import type { HealthChecker } from './health_check.js';
import { upstreamFailure } from './upstream_failure.js';
import { declaredLength, RequestAttempts, type Http2Origin } from '../mesh/index.js';
import { OutlierDetector } from './outlier_detector.js';
import { declaresBody, RetryPolicy, type ExchangeOutcome, type UpgradedExchange } from '../mesh/index.js';
import { ProxyExchange, type AnswerFields } from './proxy_exchange.js';
import { upstreamHosts } from './upstream_hosts.js';
import type { UpstreamMesh } from './upstream_mtls.js';

/**
 * What decides whether an upstream survives a reload: its configuration and the content of its `caFile`.
 *
 * @example
 * const same = old.fingerprint === upstreamFingerprint(config, ca);
 */
export function upstreamFingerprint(config: UpstreamConfig, ca: string | undefined): string {
  return JSON.stringify(config) + (ca ?? '');
}

/** What a forwarded request needs. */
export interface ForwardRequest extends AnswerFields {
  req: IncomingMessage;
  /** The request target sent upstream (the normalized one: what routing and the cache key saw). */
  path: string;
  res: ServerResponse;
  headers: Record<string, string>;
  /** The body sent upstream instead of `req` itself (a gRPC-Web text call's decoded body). */
  body?: Readable | undefined;
}

/**
 * One upstream service: an undici keep-alive `Pool` per host, outlier ejection across hosts, a circuit breaker
 * (consecutive failures and error rate over a rolling window; half-open trials) and a bulkhead (max concurrent
 * requests, bounded FIFO queue). Kept across hot reloads while its configuration is unchanged.
 *
 * @example
 * const upstream = new Upstream(config.upstreams[0], { clock, logger, metrics });
 * const permit = await upstream.admit();
 * await upstream.send({ req, res, path: ctx.target, headers, requestId, responseHeaders: undefined, hsts: undefined }, permit);
 */
export class Upstream {
  readonly name: string;
  /** How its hosts are spoken to. */
  readonly protocol: UpstreamConfig['protocol'];
  /** Whether it speaks HTTP/2 (`h2c` or `h2`): gRPC calls go there. */
  readonly http2: boolean;
  /** The configuration it was built from, to decide reuse on reload. */
  readonly fingerprint: string;
  readonly breaker: CircuitBreaker;
  readonly bulkhead: Bulkhead;
  readonly outliers: OutlierDetector;
  /** Its `tunnels` keys: WebSocket tunnels at once, and their idle timeout (ms). */
  readonly tunnels: { max: number; idleTimeout: number };
  /** One per host: an undici keep-alive `Pool` (http/1.1) or an {@link Http2Origin} (`protocol: h2c` or `h2`). */
  private readonly pools: (Pool | Http2Origin)[];
  private readonly timeout: number;
  private readonly retry: RetryPolicy;
  /** Active health checks of the hosts (`healthCheck`), feeding {@link outliers}. */
  private readonly health: HealthChecker | undefined;
  /** Its proxied exchanges by outcome (`gatehouse_gateway_upstream_responses_total`). */
  private readonly outcomes: UpstreamOutcomes;
  /** How long its answered requests took (`gatehouse_gateway_upstream_request_duration_seconds`). */
  private readonly durations: HistogramCells;
  /** Stops retiring HTTP/2 mesh connections on SVID renewal (set for `mtls` + `h2` only). */
  private unsubscribe: (() => void) | undefined;
  private readonly hostOrigins: readonly string[];

  constructor(
    config: UpstreamConfig,
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      metrics: GatewayMetrics;
      mesh?: UpstreamMesh;
      /** The trust anchors (PEM) of `caFile`, already read. */
      ca?: string;
    },
  ) {
    this.name = config.name;
    this.protocol = config.protocol;
    this.http2 = config.protocol !== 'http/1.1';
    this.fingerprint = upstreamFingerprint(config, deps.ca);
    this.timeout = config.timeout;
    this.retry = new RetryPolicy(config.retries, config.protocol !== 'http/1.1');
    this.hostOrigins = config.hosts;
    this.tunnels = config.tunnels;
    this.outcomes = deps.metrics.upstreamOutcomes(config.name);
    this.durations = deps.metrics.upstreamDuration(config.name);
    const b = config.breaker;
    const buckets = 10;
    const windowMs = Math.max(buckets, Math.ceil(b.window / buckets) * buckets);
    deps.metrics.setBreakerState(config.name, 'closed');
    this.breaker = new CircuitBreaker({
      clock: deps.clock,
      consecutiveFailures: b.consecutiveFailures,
      errorRate: { threshold: b.errorRate, minimumRequests: b.minimumRequests, windowMs, buckets },
      openDuration: Math.max(1, b.openDuration),
      halfOpenMaxTrials: b.halfOpenTrials,
      onStateChange: (change) => {
        deps.metrics.setBreakerState(config.name, change.to);
        deps.logger.warn(
          { event: 'gateway_breaker', upstream: config.name, ...change },
          'upstream circuit breaker moved',
        );
      },
    });
    this.bulkhead = new Bulkhead(config.maxConcurrent, config.maxQueue);
    this.outliers = new OutlierDetector(config.hosts.length, config.outlier, deps.clock, (host) => {
      deps.metrics.ejections.labels(config.name).inc();
      deps.logger.warn(
        { event: 'gateway_outlier_ejected', upstream: config.name, host: config.hosts[host] },
        'upstream host ejected',
      );
    });
    const hosts = upstreamHosts(config, deps, (host, healthy) => this.outliers.setDown(host, !healthy));
    this.pools = hosts.pools;
    this.health = hosts.health;
    this.unsubscribe = hosts.unsubscribe;
  }

  /** Its hosts and whether each passes its active health checks (undefined: no `healthCheck`). */
  get checkedHosts(): { origin: string; healthy: boolean }[] | undefined {
    const health = this.health;
    if (health === undefined) return undefined;
    return this.hostOrigins.map((origin, i) => ({ origin, healthy: health.healthy[i] === true }));
  }

  /** Retries of its requests under way (held to `retries.budget`). */
  get retriesInFlight(): number {
    return this.retry.retriesInFlight;
  }

  /**
   * The shedding stage: a breaker permit (CircuitOpenError, 503 with Retry-After, while open), then a bulkhead slot
   * (ERR_GATEWAY_OVERLOADED when the queue is full; a promise while queued). Pass the permit to {@link send}.
   */
  admit(): BreakerPermit | Promise<BreakerPermit> {
    const permit = this.breaker.tryAcquire();
    if (!permit.ok) {
      this.deps.metrics.shed.labels(this.name, 'circuit_open').inc();
      throw new CircuitOpenError(permit.retryAfterMs);
    }
    const slot = this.bulkhead.acquire();
    if (slot === true) return permit;
    if (slot === false) {
      permit.release();
      this.deps.metrics.shed.labels(this.name, 'overloaded').inc();
      throw new GatehouseError('ERR_GATEWAY_OVERLOADED', { detail: `upstream ${this.name}` });
    }
    return slot.then(() => permit);
  }

  /**
   * The proxy stage: forwards on a pooled keep-alive connection and streams the answer back; reports the outcome to
   * the breaker and the outlier detector, and frees the bulkhead slot. Throws GatehouseError (502/504) only before the
   * response started; after that a failure destroys the response.
   */
  send(f: ForwardRequest, permit: BreakerPermit): Promise<void> {
    const { req, res } = f;
    if (res.destroyed) {
      this.bulkhead.release();
      permit.release(); // the client left while the request waited in a queue: neither success nor failure
      return Promise.resolve();
    }
    // `Content-Length: 0` (what undici and browsers send on a bodiless POST, PUT or DELETE) is no body to stream.
    const hasBody = declaresBody(req) || f.body !== undefined;
    // A body is kept while it streams (up to 64 KiB), so every request may go again: one with a body once it ended.
    return this.attempt(f, permit, hasBody);
  }

  /**
   * Sends the request to the next host and settles it, or, when the attempt failed in a way {@link RetryPolicy}
   * retries and attempts and the budget allow, sends it again ({@link RequestAttempts}) on the next host not ejected,
   * after a short backoff when that is the same host.
   */
  private attempt(f: ForwardRequest, permit: BreakerPermit, hasBody: boolean): Promise<void> {
    const { req, res } = f;
    const startedAt = this.deps.clock.now();
    // One promise per request, settled from the last attempt's outcome (no async wrappers on the hot path).
    return new Promise<void>((resolve, reject) => {
      let host = this.outliers.pick();
      const attempts = new RequestAttempts(
        this.retry,
        {
          method: req.method as string,
          res,
          body: hasBody ? (f.body ?? req) : null,
          declaredLength: f.body === undefined ? declaredLength(req) : undefined,
          lateFirstBody: !this.http2,
        },
        {
          send: (body) => {
            const pool = this.pools[host] as Pool | Http2Origin;
            try {
              pool.dispatch(
                {
                  path: f.path,
                  method: req.method as 'GET',
                  headers: f.headers,
                  body,
                  headersTimeout: this.timeout,
                  bodyTimeout: this.timeout,
                },
                new ProxyExchange(res, f, attempts.done, attempts),
              );
            } catch (err) {
              // undici reports a refused request (bad header value, closed pool) to the exchange; a throw here is
              // unexpected, and must still free the slot and the permit.
              attempts.done({ error: err as Error, clientGone: false });
            }
          },
          reserve: () => this.reserveRetry(),
          retrying: (reason, retry, go) => {
            this.outliers.report(host, false);
            this.deps.metrics.retries.labels(this.name, reason).inc();
            const failed = host;
            host = this.outliers.pick();
            // Another host at once; the same one (the only one left) after a short backoff. Never from within the
            // exchange that just ended: a dropped answer read to its end frees its connection only once undici's
            // handler returns, and a retry dispatched before would open another.
            const wait = host === failed ? this.retry.backoffMs(retry) : 0;
            if (wait === 0) setImmediate(go);
            else setTimeout(go, wait);
          },
          settle: (outcome) => {
            this.bulkhead.release();
            try {
              this.account(outcome, host, permit, res, startedAt);
              resolve();
            } catch (err) {
              reject(err);
            }
          },
        },
      );
      attempts.start();
    });
  }

  /** A place in the retry budget, or the overflow counted. */
  private reserveRetry(): boolean {
    if (this.retry.reserve(this.bulkhead.inFlight)) return true;
    this.deps.metrics.retryOverflow.labels(this.name).inc();
    return false;
  }

  /**
   * A WebSocket handshake, in the proxy stage of a route with `websocket: true`: sent to a host as {@link send} would
   * (outlier ejection, the breaker's permit, the bulkhead slot held until the answer) with `Connection: upgrade` and
   * `Upgrade: websocket`. Returns the upstream's connection after its 101 (detached from the pool: a tunnel holds no
   * pooled connection and no bulkhead slot); undefined when the upstream answered otherwise (relayed to the client as
   * an ordinary response) or the client left. Throws GatehouseError (502/504) as {@link send} does; a failed handshake
   * counts against the breaker and the host as a failed request would.
   */
  async upgrade(f: ForwardRequest, permit: BreakerPermit): Promise<UpgradedExchange | undefined> {
    try {
      const host = this.outliers.pick();
      const pool = this.pools[host] as Pool | Http2Origin;
      const startedAt = this.deps.clock.now();
      if (f.res.destroyed) {
        permit.release();
        return undefined;
      }
      const outcome = await new Promise<ExchangeOutcome>((resolve) => {
        pool.dispatch(
          {
            path: f.path,
            method: 'GET',
            headers: f.headers,
            body: null,
            upgrade: 'websocket',
            headersTimeout: this.timeout,
            bodyTimeout: this.timeout,
          },
          new ProxyExchange(f.res, f, resolve),
        );
      });
      this.account(outcome, host, permit, f.res, startedAt);
      return 'socket' in outcome ? outcome : undefined;
    } finally {
      this.bulkhead.release();
    }
  }

  /**
   * Feeds an exchange's outcome to the breaker, the outlier detector and the upstream's metrics (an answer's time
   * since `startedAt`, the first attempt); throws the client's error for a failure.
   */
  private account(
    outcome: ExchangeOutcome,
    host: number,
    permit: BreakerPermit,
    res: ServerResponse,
    startedAt: number,
  ): void {
    if ('status' in outcome) {
      this.outcomes[outcomeIndex(outcome.status)]! += 1;
      // A WebSocket handshake (101) is not timed: its tunnel is no request (as the sidecar counts it).
      if (outcome.status !== 101) this.durations.observe((this.deps.clock.now() - startedAt) / 1000);
      const ok = outcome.status < 500;
      permit.done(ok);
      this.outliers.report(host, ok);
      return;
    }
    if (outcome.clientGone || (res.destroyed && !res.headersSent)) {
      permit.release();
      return;
    }
    if (isGatehouseError(outcome.error) && outcome.error.status < 500) {
      // The client's body failed: over `http.bodyLimit` (src/gateway/body_limit.ts), or not the base64 a gRPC-Web
      // text call must send. The client's fault, not the upstream's, so a caller cannot open the breaker or eject
      // hosts with bad bodies.
      permit.release();
      if (res.headersSent) res.destroy();
      else throw outcome.error;
      return;
    }
    if (upstreamFailureKind(outcome.error) === 'refused') {
      // A request undici will not send is no upstream failure: a caller must not open the breaker or eject hosts.
      permit.release();
      throw upstreamFailure(this.name, outcome.error);
    }
    permit.done(false);
    this.outliers.report(host, false);
    this.outcomes[FAILED_OUTCOME]! += 1;
    if (res.headersSent) {
      res.destroy(outcome.error);
      return;
    }
    throw upstreamFailure(this.name, outcome.error);
  }

  /** Closes the pools once their requests finish (and stops the health checks). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.health?.stop();
    await Promise.all(this.pools.map((p) => p.close()));
  }
}
