import { Counter, Gauge, Registry } from 'prom-client';
import { DURATION_BOUNDS, HistogramCells, labelValue, RequestStats } from '../core/index.js';
import type { BreakerState } from '../ratelimit/index.js';

/** The gateway's load now, read by the gauges at each scrape. */
export interface GatewayLoad {
  upstreams: ReadonlyArray<{
    name: string;
    inFlight: number;
    queued: number;
    retrying?: number;
    /** Hosts under active health checks, and whether each passes them. */
    checked?: ReadonlyArray<{ origin: string; healthy: boolean }>;
  }>;
  throttleWaiting: number;
  /** Keys held by the in-process limiter store, and how many owing keys it has dropped to stay within maxKeys. */
  localLimiter?: { keys: number; evictions: number };
}

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** The `class` labels of `gatehouse_gateway_upstream_responses_total`, by index in {@link UpstreamOutcomes}. */
const OUTCOME_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'failed'] as const;

/**
 * An upstream's proxied exchanges by outcome, counted on the request path as plain numbers (indexes of
 * {@link OUTCOME_CLASSES}: the answer's status class, or `failed` when none came whole) and exported at scrape.
 */
export type UpstreamOutcomes = number[];

/** The index in {@link UpstreamOutcomes} of an answer's status (a gRPC answer by its grpc-status mapped to HTTP). */
export function outcomeIndex(status: number): number {
  return Math.min(3, Math.max(0, Math.floor(status / 100) - 2));
}

/** The index in {@link UpstreamOutcomes} of an exchange that failed without a whole answer. */
export const FAILED_OUTCOME = 4;

/**
 * The gateway's Prometheus metrics, in a registry of its own (several gateways may share a process in tests).
 * Cache hits and WAF blocks are added by the stages that own them.
 *
 * @example
 * const metrics = new GatewayMetrics();
 * metrics.requests.record('demo', 200, 0.004);
 * const text = await metrics.text();
 */

const UPSTREAM_DURATION = {
  name: 'gatehouse_gateway_upstream_request_duration_seconds',
  help: "Time from a proxied request's first attempt until its upstream's answer ended (retries and their backoff included), by upstream; requests without a whole answer are not observed (upstream_responses_total class failed).",
};

export class GatewayMetrics {
  readonly registry = new Registry();
  /** `gatehouse_gateway_requests_total` and `gatehouse_gateway_request_duration_seconds`, kept off prom-client. */
  readonly requests = new RequestStats(
    { name: 'gatehouse_gateway_requests_total', help: 'Requests answered, by route and status code.' },
    { name: 'gatehouse_gateway_request_duration_seconds', help: 'Time from request to response end, by route.' },
    DURATION_BOUNDS,
  );
  /** `gatehouse_gateway_upstream_request_duration_seconds` by upstream name: kept across reloads, as the outcomes. */
  private readonly upstreamDurations = new Map<string, HistogramCells>();
  readonly limited = new Counter({
    name: 'gatehouse_gateway_limited_total',
    help: 'Requests refused with 429, by route and limit.',
    labelNames: ['route', 'limit'] as const,
    registers: [this.registry],
  });
  readonly grpcCalls = new Counter({
    name: 'gatehouse_gateway_grpc_calls_total',
    help: "gRPC and gRPC-Web calls answered, by route and gRPC status code (the upstream's, or the gateway's refusal).",
    labelNames: ['route', 'grpc_status'] as const,
    registers: [this.registry],
  });
  readonly hostHealthy: Gauge = new Gauge({
    name: 'gatehouse_gateway_upstream_host_healthy',
    help: 'Whether an upstream host passes its active health checks (1) or is out of the rotation (0), by upstream and host (read at scrape; upstreams with healthCheck only).',
    labelNames: ['upstream', 'host'] as const,
    registers: [this.registry],
    collect: () => {
      this.hostHealthy.reset();
      for (const u of this.load().upstreams) {
        for (const h of u.checked ?? []) this.hostHealthy.labels(u.name, h.origin).set(h.healthy ? 1 : 0);
      }
    },
  });
  readonly healthChecks = new Counter({
    name: 'gatehouse_gateway_health_checks_total',
    help: 'Active health checks of upstream hosts, by upstream and result (success, failure).',
    labelNames: ['upstream', 'result'] as const,
    registers: [this.registry],
  });
  readonly sourceDenied = new Counter({
    name: 'gatehouse_gateway_source_denied_total',
    help: "Requests refused by a route's source address lists (sources.allow, sources.deny), by route.",
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'gatehouse_gateway_retries_total',
    help: 'Requests sent again after a failed attempt, by upstream and reason (connect-failure, refused-stream, reset, status).',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });
  readonly retryOverflow = new Counter({
    name: 'gatehouse_gateway_retry_overflow_total',
    help: 'Failed attempts not retried because the retry budget of the upstream was spent, by upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly corsPreflights = new Counter({
    name: 'gatehouse_gateway_cors_preflights_total',
    help: 'CORS preflights answered by the gateway, by route and outcome (allowed, refused).',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly canaryRouted = new Counter({
    name: 'gatehouse_gateway_canary_routed_total',
    help: 'Requests of routes with a canary, by route and the upstream chosen (the primary or the canary).',
    labelNames: ['route', 'upstream'] as const,
    registers: [this.registry],
  });
  readonly shadowLimited = new Counter({
    name: 'gatehouse_gateway_shadow_limited_total',
    help: 'Requests over a shadow-mode limit (admitted anyway), by route and limit.',
    labelNames: ['route', 'limit'] as const,
    registers: [this.registry],
  });
  readonly throttled = new Counter({
    name: 'gatehouse_gateway_throttled_total',
    help: 'Requests delayed by throttling, by route, limit and outcome (admitted or limited).',
    labelNames: ['route', 'limit', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly shed = new Counter({
    name: 'gatehouse_gateway_shed_total',
    help: 'Requests refused with 503 before the upstream, by upstream and reason (overloaded, circuit_open).',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });
  readonly breakerState = new Gauge({
    name: 'gatehouse_gateway_breaker_state',
    help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly ejections = new Counter({
    name: 'gatehouse_gateway_outlier_ejections_total',
    help: 'Hosts ejected by outlier detection, by upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'gatehouse_gateway_redis_errors_total',
    help: 'Global rate-limit decisions that Redis could not make (error, timeout, or skipped while it recovers).',
    registers: [this.registry],
  });
  readonly failOpen = new Counter({
    name: 'gatehouse_gateway_limiter_fail_open_total',
    help: 'Requests admitted without a global decision because Redis was unavailable, by route and limit.',
    labelNames: ['route', 'limit'] as const,
    registers: [this.registry],
  });
  readonly overLimitCacheHits = new Counter({
    name: 'gatehouse_gateway_over_limit_cache_hits_total',
    help: 'Global decisions answered from the local cache of keys known to be over their limit (no Redis call).',
    registers: [this.registry],
  });

  readonly tunnelsOpen = new Gauge({
    name: 'gatehouse_gateway_tunnels_open',
    help: 'WebSocket tunnels open, by upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly tunnels = new Counter({
    name: 'gatehouse_gateway_tunnels_total',
    help: 'WebSocket handshakes that reached the tunnel cap or the upstream, by upstream and outcome (upgraded, refused = the upstream answered without 101, failed = 502/504, full = over tunnels.max).',
    labelNames: ['upstream', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly tunnelsClosed = new Counter({
    name: 'gatehouse_gateway_tunnels_closed_total',
    help: 'WebSocket tunnels closed, by upstream and reason (client, upstream, idle, shutdown).',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });

  /** Outcomes by upstream name: kept across reloads (an Upstream rebuilt by a reload counts on). */
  private readonly outcomes = new Map<string, UpstreamOutcomes>();
  readonly upstreamResponses: Counter = new Counter({
    name: 'gatehouse_gateway_upstream_responses_total',
    help: "Proxied requests by upstream and outcome: the answer's status class (2xx, 3xx, 4xx, 5xx; a gRPC answer by its grpc-status), or failed (no whole answer: unreachable, timed out, reset, cut).",
    labelNames: ['upstream', 'class'] as const,
    registers: [this.registry],
    collect: (): void => {
      this.upstreamResponses.reset();
      for (const [upstream, counts] of this.outcomes) {
        OUTCOME_CLASSES.forEach((cls, i) => {
          if ((counts[i] ?? 0) > 0) this.upstreamResponses.labels(upstream, cls).inc(counts[i]);
        });
      }
    },
  });

  /**
   * The outcome counts of `upstream`, for it to add to on the request path (the same array across reloads).
   *
   * @example
   * const outcomes = metrics.upstreamOutcomes('orders'); outcomes[outcomeIndex(200)]++;
   */
  upstreamOutcomes(upstream: string): UpstreamOutcomes {
    let counts = this.outcomes.get(upstream);
    if (counts === undefined) {
      counts = OUTCOME_CLASSES.map(() => 0);
      this.outcomes.set(upstream, counts);
    }
    return counts;
  }

  /**
   * The duration histogram of `upstream`, for it to observe on the request path (the same cells across reloads).
   *
   * @example
   * metrics.upstreamDuration('orders').observe(0.012);
   */
  upstreamDuration(upstream: string): HistogramCells {
    let cells = this.upstreamDurations.get(upstream);
    if (cells === undefined) {
      cells = new HistogramCells(DURATION_BOUNDS);
      this.upstreamDurations.set(upstream, cells);
    }
    return cells;
  }

  /** What the load gauges read at each scrape (set by the gateway; nothing on the request path). */
  private load: () => GatewayLoad = () => ({ upstreams: [], throttleWaiting: 0 });
  readonly upstreamInFlight = new Gauge({
    name: 'gatehouse_gateway_upstream_in_flight',
    help: "Requests holding one of an upstream's maxConcurrent slots now, by upstream (read at scrape).",
    labelNames: ['upstream'] as const,
    registers: [this.registry],
    collect: () => this.collectUpstreams('inFlight'),
  });
  readonly upstreamQueued = new Gauge({
    name: 'gatehouse_gateway_upstream_queued',
    help: "Requests waiting in an upstream's maxQueue now, by upstream (read at scrape).",
    labelNames: ['upstream'] as const,
    registers: [this.registry],
    collect: () => this.collectUpstreams('queued'),
  });
  readonly upstreamRetrying = new Gauge({
    name: 'gatehouse_gateway_upstream_retries_in_flight',
    help: "Retries of an upstream's requests under way now (held to retries.budget), by upstream (read at scrape).",
    labelNames: ['upstream'] as const,
    registers: [this.registry],
    collect: () => this.collectUpstreams('retrying'),
  });
  readonly throttleWaiting: Gauge = new Gauge({
    name: 'gatehouse_gateway_throttle_waiting',
    help: 'Requests delayed in local throttle queues now, over every key (read at scrape).',
    registers: [this.registry],
    collect: (): void => this.throttleWaiting.set(this.load().throttleWaiting),
  });

  readonly localLimiterKeys: Gauge = new Gauge({
    name: 'gatehouse_gateway_limiter_local_keys',
    help: 'Keys held by the in-process limiter store now (at most ratelimit.memory.maxKeys; read at scrape).',
    registers: [this.registry],
    collect: (): void => this.localLimiterKeys.set(this.load().localLimiter?.keys ?? 0),
  });
  /** Evictions already added to the counter (the store counts from its start). */
  private evictionsSeen = 0;
  readonly localLimiterEvictions: Counter = new Counter({
    name: 'gatehouse_gateway_limiter_local_evictions_total',
    help: 'Keys the in-process limiter store dropped while they still owed (their debt forgiven) to stay within ratelimit.memory.maxKeys.',
    registers: [this.registry],
    collect: (): void => {
      const total = this.load().localLimiter?.evictions ?? 0;
      if (total > this.evictionsSeen) this.localLimiterEvictions.inc(total - this.evictionsSeen);
      this.evictionsSeen = Math.max(this.evictionsSeen, total);
    },
  });

  /** The listener's open client connections by protocol (set by the listener: {@link observeConnections}). */
  private connectionsNow: () => { http1: number; http2: number } = () => ({ http1: 0, http2: 0 });
  readonly connections: Gauge = new Gauge({
    name: 'gatehouse_gateway_connections',
    help: 'Open client connections by protocol (http1 includes connections still in their TLS handshake; read at scrape).',
    labelNames: ['protocol'],
    registers: [this.registry],
    collect: (): void => {
      const now = this.connectionsNow();
      this.connections.labels('http1').set(now.http1);
      this.connections.labels('http2').set(now.http2);
    },
  });

  /**
   * Gives the connections gauge its source (the listener's counts), read at each scrape.
   *
   * @example
   * metrics.observeConnections(() => ({ http1: guard.size - front.sessions, http2: front.sessions }));
   */
  observeConnections(source: () => { http1: number; http2: number }): void {
    this.connectionsNow = source;
  }

  /**
   * Gives the load gauges their source, read at each scrape.
   *
   * @example
   * metrics.observeLoad(() => ({ upstreams: [{ name: 'api', inFlight: 3, queued: 0 }], throttleWaiting: 0 }));
   */
  observeLoad(source: () => GatewayLoad): void {
    this.load = source;
  }

  private collectUpstreams(field: 'inFlight' | 'queued' | 'retrying'): void {
    const gauge =
      field === 'inFlight' ? this.upstreamInFlight : field === 'queued' ? this.upstreamQueued : this.upstreamRetrying;
    gauge.reset(); // upstreams removed by a reload must not linger in the exposition
    for (const u of this.load().upstreams) gauge.labels(u.name).set(u[field] ?? 0);
  }

  /** Records a breaker transition. */
  setBreakerState(upstream: string, state: BreakerState): void {
    this.breakerState.labels(upstream).set(BREAKER_VALUE[state]);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    const text = await this.registry.metrics();
    const { name, help } = UPSTREAM_DURATION;
    const upstreams = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    for (const [upstream, cells] of this.upstreamDurations) {
      upstreams.push(...cells.lines(name, `upstream="${labelValue(upstream)}"`));
    }
    return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${this.requests.text()}${upstreams.join('\n')}\n`;
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
