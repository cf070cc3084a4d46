import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Clock, Logger, Tunnels } from '../core/index.js';
import { declaresBody, upgradeResponse, wantsUpgrade } from '../mesh/index.js';
import { MemoryLimiterStore, type LimiterStore } from '../ratelimit/index.js';
import { limitBodySize } from './body_limit.js';
import { upstreamOf } from './request_routing.js';
import { authorize, refuseAllAuthenticator, type Authenticator } from './authenticator.js';
import { credentialWithholding, upstreamRequestHeaders, warnForwardedTokens } from './forwarded_headers.js';
import type { GatewayConfig } from './gateway_config.js';
import { GatewayLimiter } from './gateway_limiter.js';
import { GatewayMetrics } from './gateway_metrics.js';
import { buildGatewayState, type GatewayState, type GatewayStateDeps } from './gateway_state.js';
import { OverLimitCache } from './over_limit_cache.js';
import { buildPipeline, noopStage, runPipeline, type RequestContext, type Stage, type StageRun } from './pipeline.js';
import { GrpcWebAnswer, grpcWebCall, grpcWebTextBody } from './grpc_web.js';
import { enforceRequestDeadline } from './http2_front.js';
import { isGrpcRequest } from './problem_response.js';
import { createCorsStage } from './cors_stage.js';
import { createSourceStage } from './source_stage.js';
import { createRateLimitStage } from './rate_limit_stage.js';
import { RedisGuard } from './redis_guard.js';
import { RequestEnd } from './request_end.js';
import { routePlainRequest, routeRequest } from './request_routing.js';
import { Throttle } from './throttle.js';
import { gatewayTunnels } from './tunnels.js';
import { hstsOf } from './strict_transport_security.js';
import type { UpstreamMesh } from './upstream_mtls.js';
import { closeUnreadBodies, createWafStages } from './waf/waf_stage.js';
import { chainStages, createCacheStage } from './cache/cache_stage.js';
import { ResponseCache } from './cache/response_cache.js';
import { routesToForget } from './cache/cache_reload.js';
import { createWebSocketStages } from './websocket_stages.js';

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  config: GatewayConfig;
  clock: Clock;
  logger: Logger;
  /** Verifies JWTs and API keys for routes that require them (default: refuse every credential). */
  authenticator?: Authenticator;
  /** The global limiter tier (a RedisLimiterStore); without it `global` limits decide in process. */
  globalStore?: LimiterStore;
  /** Keys of the in-process limiter store (config `ratelimit.memory.maxKeys`). */
  maxKeys?: number;
  /** Largest request body accepted (config `http.bodyLimit`), checked against Content-Length. */
  bodyLimit?: number;
  /** Header API keys may come in (config `identity.apiKeys.header`); removed before proxying on API-key routes. */
  apiKeyHeader?: string;
  /** Plug-in stages for the named slots. */
  stages?: { waf?: StageRun; cache?: StageRun };
  /** The gateway's SVID, for upstreams with `mtls` (docs/gateway.md). */
  mesh?: UpstreamMesh;
  metrics?: GatewayMetrics;
  /**
   * Reads a file the configuration names (an upstream's `caFile`, relative paths resolved by the caller). Unset: a
   * configuration naming one is refused (ERR_CONFIG_INVALID).
   */
  readFile?: (path: string) => string;
}

/**
 * The gateway data plane: a `(req, res)` handler for a plain node:https server that runs the fixed pipeline
 * request id → limits → waf → authentication → rate limit → authorization → cache → shedding → proxy.
 * `reload` swaps the routes, limits and upstreams atomically; connections and in-flight requests are untouched.
 *
 * @example
 * const gateway = new Gateway({ config: config.gateway, clock: systemClock, logger, authenticator });
 * const server = https.createServer(serverTlsOptions({ cert, key }), gateway.handler);
 */
export class Gateway {
  readonly metrics: GatewayMetrics;
  /** The shared response cache of routes with `cache.enabled` (docs/gateway-cache.md). */
  readonly cache: ResponseCache;
  /** Bound `(req, res)` handler for `https.createServer`. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Bound handler of the server's `upgrade` event (requests with `Connection: upgrade` and `Upgrade`): WebSocket
   * handshakes of routes with `websocket: true` become tunnels (docs/gateway.md "WebSocket"), others are refused.
   */
  readonly upgradeHandler: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** The open WebSocket tunnels. */
  readonly tunnels: Tunnels;
  private state: GatewayState;
  private config: GatewayConfig;
  /** The Strict-Transport-Security value added to responses (`gateway.hsts`), undefined when none. */
  private hsts: string | undefined;
  private readonly stages: readonly Stage[];
  /** The same stages for a WebSocket handshake: no cache, the tunnel cap before shedding, a tunnel for the proxy. */
  private readonly upgradeStages: readonly Stage[];
  private readonly limiter: GatewayLimiter;
  /** Failures answered and every request's access line and metrics. */
  private readonly end: RequestEnd;
  private readonly authenticator: Authenticator;
  private readonly local: MemoryLimiterStore;
  private readonly withheld: ReturnType<typeof credentialWithholding>;
  private deps: GatewayStateDeps;
  private closing: Promise<void> | undefined;

  constructor(private readonly o: GatewayOptions) {
    this.metrics = o.metrics ?? new GatewayMetrics();
    this.deps = {
      clock: o.clock,
      logger: o.logger,
      metrics: this.metrics,
      apiKeyHeader: o.apiKeyHeader ?? 'x-api-key',
      ...(o.mesh ? { mesh: o.mesh } : {}),
      ...(o.readFile ? { readFile: o.readFile } : {}),
    };
    this.state = buildGatewayState(o.config, undefined, this.deps).state;
    this.config = o.config;
    this.hsts = hstsOf(o.config, o.logger);
    warnForwardedTokens(o.config, o.logger);
    this.authenticator = o.authenticator ?? refuseAllAuthenticator;
    this.withheld = credentialWithholding(o.apiKeyHeader ?? 'x-api-key');
    this.local = new MemoryLimiterStore({ clock: o.clock, maxKeys: o.maxKeys ?? 1_000_000 });
    const throttle = new Throttle(o.clock);
    this.metrics.observeLoad(() => ({
      upstreams: [...this.state.upstreams.values()].map((u) => ({
        name: u.name,
        inFlight: u.bulkhead.inFlight,
        queued: u.bulkhead.queued,
        retrying: u.retriesInFlight,
        checked: u.checkedHosts,
      })),
      throttleWaiting: throttle.waiting,
      localLimiter: { keys: this.local.size, evictions: this.local.evictions },
    }));
    this.limiter = new GatewayLimiter({
      local: this.local,
      global: o.globalStore
        ? new RedisGuard({
            store: o.globalStore,
            clock: o.clock,
            logger: o.logger,
            metrics: this.metrics,
            timeoutMs: o.config.redisTimeout,
            retryMs: o.config.redisRetry,
          })
        : undefined,
      overLimit: new OverLimitCache(100_000),
      throttle,
      clock: o.clock,
      metrics: this.metrics,
    });
    this.end = new RequestEnd({ clock: o.clock, logger: o.logger, metrics: this.metrics });
    const waf = createWafStages({ metrics: this.metrics, logger: o.logger });
    const c = o.config.cache;
    this.cache = new ResponseCache({
      clock: o.clock,
      maxBytes: c.maxBytes,
      maxEntries: c.maxEntries,
      maxObjectSize: c.maxObjectSize,
    });
    const cache = createCacheStage({
      cache: this.cache,
      clock: o.clock,
      logger: o.logger,
      metrics: this.metrics,
      heuristicMaxMs: c.heuristicMax,
      maxObjectSize: c.maxObjectSize,
      forwardHeaders: (ctx) => this.forwardHeaders(ctx),
    });
    const runs = {
      request_id: (ctx: RequestContext) => routePlainRequest(ctx, this.state),
      limits: (ctx: RequestContext) => {
        if (ctx.req.httpVersion === '2.0' && !ctx.route!.upstream.http2) enforceRequestDeadline(ctx.req);
        return limitBodySize(ctx, this.o.bodyLimit);
      },
      // An early answer closes a connection whose body is unread; then the route's source lists, whatever its WAF
      // mode (and before a plugged-in WAF); then the WAF's head rules. One function: the slot runs on every request.
      waf: wafSlot(createSourceStage(this.metrics), o.stages?.waf ?? waf.head),
      cors: createCorsStage(this.metrics),
      authentication: (ctx: RequestContext) => this.authenticate(ctx),
      rate_limit: createRateLimitStage(this.limiter),
      authorization: (ctx: RequestContext) => authorize(ctx.route!.config.auth, ctx.principal),
      cache: o.stages?.cache ?? chainStages(waf.body, cache),
      shedding: (ctx: RequestContext) => this.shed(ctx),
      proxy: (ctx: RequestContext) => this.proxy(ctx),
    };
    this.stages = buildPipeline(runs);
    this.tunnels = gatewayTunnels(this.metrics);
    this.upgradeStages = buildPipeline({
      ...runs,
      ...createWebSocketStages({
        route: (ctx) => routeRequest(ctx, this.state),
        shed: (ctx) => this.shed(ctx),
        forwardHeaders: (ctx) => this.forwardHeaders(ctx),
        tunnels: this.tunnels,
        metrics: this.metrics,
        clock: o.clock,
      }),
      cache: noopStage,
    });
    this.handler = (req, res) => this.handle(req, res, this.stages);
    this.upgradeHandler = (req, socket, head) => this.handleUpgrade(req, socket as Socket, head);
  }

  /**
   * Replaces routes, limits, trusted proxies and upstreams at once. A bad configuration throws ERR_CONFIG_INVALID and
   * changes nothing. Requests already past routing finish on the generation they started with. `added.mesh` gives a
   * gateway started without a mesh identity the one its first `mtls` upstream needs (kept only if the reload applies).
   * After {@link close} it does nothing.
   *
   * @example
   * process.on('SIGHUP', () => gateway.reload(loadConfig({ file }).gateway));
   */
  reload(config: GatewayConfig, added: { mesh?: UpstreamMesh } = {}): void {
    // A closed gateway builds nothing more (new upstreams would start pools and health checks nobody stops).
    if (this.closing !== undefined) return;
    const deps =
      added.mesh === undefined || this.deps.mesh !== undefined ? this.deps : { ...this.deps, mesh: added.mesh };
    const { state, retired } = buildGatewayState(config, this.state, deps);
    this.deps = deps;
    this.state = state;
    // Entries stored from a route's old upstream (or under its old cache settings) must not answer for the new one.
    this.cache.dropRoutes(routesToForget(this.config, config));
    this.config = config;
    this.hsts = hstsOf(config, this.o.logger);
    warnForwardedTokens(config, this.o.logger);
    for (const upstream of retired) void upstream.close().catch(() => {});
    this.o.logger.info({ event: 'gateway_reloaded', routes: config.routes.length }, 'gateway configuration reloaded');
  }

  /** Closes every WebSocket tunnel, and those whose handshake completes later (shutdown). */
  closeTunnels(): void {
    this.tunnels.closeAll();
  }

  /** Closes every WebSocket tunnel and every upstream pool (after their in-flight requests); later calls wait for it. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.tunnels.closeAll();
      this.end.close();
      await Promise.all([...this.state.upstreams.values()].map((u) => u.close()));
    })();
    return this.closing;
  }

  private handle(req: IncomingMessage, res: ServerResponse, stages: readonly Stage[]): void {
    const ctx: RequestContext = {
      req,
      res,
      startedAt: this.o.clock.now(),
      upstreamStartedAt: undefined,
      requestId: '',
      target: '/',
      upstreamTarget: '/',
      clientIp: '',
      trustedPeer: undefined,
      hsts: this.hsts,
      route: undefined,
      principal: undefined,
      responseHeaders: undefined,
      permit: undefined,
      grpcStatus: undefined,
      upstream: undefined,
      answered: false,
    };
    let pending: void | Promise<void> = undefined;
    try {
      pending = runPipeline(stages, ctx);
    } catch (err) {
      this.end.fail(ctx, err);
    }
    if (pending)
      pending.then(
        () => this.end.finish(ctx),
        (err: unknown) => (this.end.fail(ctx, err), this.end.finish(ctx)),
      );
    else this.end.finish(ctx);
  }

  /**
   * A request on the server's `upgrade` event, its socket no longer read as HTTP: answered through a response on the
   * socket, closed after that answer unless it becomes a tunnel. An offer of `h2c` alone is served as a plain request
   * (HTTP lets a server ignore it); anything else walks {@link upgradeStages}.
   */
  private handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy()); // the listener's own handler left with the upgrade
    if (head.length > 0) socket.unshift(head); // the client's first bytes of the new protocol, for the tunnel
    const res = upgradeResponse(req, socket);
    this.handle(req, res, wantsUpgrade(req) || declaresBody(req) ? this.upgradeStages : this.stages);
  }

  private authenticate(ctx: RequestContext): void | Promise<void> {
    const kind = ctx.route!.config.auth.kind;
    if (kind === 'none') return;
    const principal = this.authenticator.authenticate(ctx.req.headers, kind);
    if (!(principal instanceof Promise)) {
      ctx.principal = principal;
      return;
    }
    return principal.then((p) => {
      ctx.principal = p;
    });
  }

  private shed(ctx: RequestContext): void | Promise<void> {
    const admitted = upstreamOf(ctx, this.metrics).admit();
    if (admitted instanceof Promise) {
      return admitted.then((permit) => {
        ctx.permit = permit;
      });
    }
    ctx.permit = admitted;
  }

  /** The headers a request is forwarded with, on every path to the upstream (proxy and cache fill). */
  private forwardHeaders(ctx: RequestContext): Record<string, string> {
    const route = ctx.route!.config;
    // The upstream gets the verified identity, not an API key or a bearer token it could replay (unless the route
    // forwards the token).
    const headers = upstreamRequestHeaders(ctx.req.headers, ctx, this.withheld(route.auth));
    // The app behind a rewritten prefix learns the one its clients see (Traefik's StripPrefix and Spring read it).
    if (route.prefixRewrite !== undefined) headers['x-forwarded-prefix'] = route.pathPrefix;
    ctx.route!.headers?.onRequest(headers);
    return headers;
  }

  private proxy(ctx: RequestContext): Promise<void> {
    ctx.upstreamStartedAt = this.o.clock.now();
    const route = ctx.route!;
    const headers = this.forwardHeaders(ctx);
    const web = route.config.grpcWeb ? grpcWebCall(ctx.req.headers) : undefined;
    if (web !== undefined) {
      // gRPC-Web in, gRPC out (Envoy's grpc_web filter): the upstream gets gRPC's media type and, for a text call,
      // the decoded bytes (whose length differs from the base64's).
      headers['content-type'] = web.upstreamType;
      if (web.text) delete headers['content-length'];
    }
    return upstreamOf(ctx, this.metrics).send(
      {
        req: ctx.req,
        res: ctx.res,
        path: ctx.upstreamTarget,
        headers,
        body: web?.text ? grpcWebTextBody(ctx.req) : undefined,
        requestId: ctx.requestId,
        responseHeaders: ctx.responseHeaders,
        hsts: ctx.hsts,
        grpcStatus:
          web !== undefined || isGrpcRequest(ctx.req.headers) ? (status) => (ctx.grpcStatus = status) : undefined,
        grpcWeb: web === undefined ? undefined : new GrpcWebAnswer(web),
        ownsCors: route.cors !== undefined,
        headerRules: route.headers,
      },
      ctx.permit!,
    );
  }
}

/** The `waf` slot: {@link closeUnreadBodies}, the source lists (which throw to refuse), then the WAF's head rules. */
function wafSlot(sources: StageRun, head: StageRun): StageRun {
  return (ctx) => {
    closeUnreadBodies(ctx);
    sources(ctx);
    return head(ctx);
  };
}
