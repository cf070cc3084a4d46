import { AccessLog, isGatehouseError, randomId, type Clock, type GatehouseError, type Logger } from '../core/index.js';
import { CircuitOpenError } from '../ratelimit/index.js';
import type { AccessEntry } from './access_log.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import type { RequestContext } from './pipeline.js';
import { sendProblem } from './problem_response.js';
import { retryAfterSeconds } from './ratelimit_headers.js';
import { ShedLog, type ShedReason } from './shed_log.js';

/** Longest User-Agent kept in an access-log line (longer ones are cut: a client sets it). */
const USER_AGENT_MAX = 256;

/**
 * The end of every gateway request: the answer to a refusal or failure, then the request metrics and the access line.
 *
 * @example
 * const end = new RequestEnd({ clock, logger, metrics });
 * try { await runPipeline(stages, ctx); } catch (err) { end.fail(ctx, err); }
 * end.finish(ctx);
 */
export class RequestEnd {
  private readonly accessLog: AccessLog<AccessEntry>;
  private readonly shedLog: ShedLog;

  constructor(private readonly o: { clock: Clock; logger: Logger; metrics: GatewayMetrics }) {
    this.accessLog = new AccessLog<AccessEntry>(o.logger.child({ log: 'access' }));
    this.shedLog = new ShedLog(o.logger, o.clock);
  }

  /** Flushes the access log and stops the shed log's timer (shutdown). */
  close(): void {
    this.accessLog.flush();
    this.shedLog.close();
  }

  /**
   * Answers a request a stage refused or failed with problem+json: Retry-After for an open circuit, the overload
   * header for shed requests, WWW-Authenticate for 401 and insufficient scope. Shed refusals go to the rate-limited
   * shed log; other 5xx and unexpected errors get a warn line.
   */
  fail(ctx: RequestContext, err: unknown): void {
    ctx.answered = true;
    if (ctx.requestId === '') ctx.requestId = randomId(12);
    const headers: Record<string, string> = { ...ctx.responseHeaders };
    if (err instanceof CircuitOpenError) headers['retry-after'] = String(retryAfterSeconds(err.retryAfterMs));
    if (isGatehouseError(err, 'ERR_GATEWAY_OVERLOADED') || isGatehouseError(err, 'ERR_GATEWAY_TUNNELS_FULL')) {
      headers['x-gatehouse-overloaded'] = 'true';
    }
    if (isGatehouseError(err) && err.status === 401) {
      headers['www-authenticate'] =
        err.code === 'ERR_TOKEN_MISSING'
          ? 'Bearer realm="gatehouse"'
          : 'Bearer realm="gatehouse", error="invalid_token"';
    }
    if (isGatehouseError(err, 'ERR_TOKEN_INSUFFICIENT_SCOPE')) {
      headers['www-authenticate'] = 'Bearer realm="gatehouse", error="insufficient_scope"';
    }
    const shed: ShedReason | undefined =
      err instanceof CircuitOpenError
        ? 'circuit_open'
        : isGatehouseError(err, 'ERR_GATEWAY_OVERLOADED')
          ? 'overloaded'
          : undefined;
    if (shed !== undefined && ctx.route !== undefined) {
      // A flood of refusals must not become a flood of log lines: one line per upstream and reason per second.
      this.shedLog.refused({
        upstream: (ctx.upstream ?? ctx.route.upstream).name,
        reason: shed,
        route: ctx.route.config.name,
        code: (err as GatehouseError).code,
        requestId: ctx.requestId,
      });
    } else if (!isGatehouseError(err) || err.status >= 500) {
      this.o.logger.warn(
        {
          event: 'gateway_error',
          request_id: ctx.requestId,
          route: ctx.route?.config.name,
          code: isGatehouseError(err) ? err.code : 'ERR_INTERNAL',
          detail: isGatehouseError(err) ? err.detail : (err as Error)?.message,
        },
        'gateway request failed',
      );
    }
    try {
      sendProblem(ctx, err, { headers });
    } catch {
      // A field node will not send on this connection (an HTTP/2 response left holding one): nothing more can be
      // said to this client; the stream or connection ends here rather than an unhandled error ending the process.
      ctx.res.destroy();
    }
  }

  /** The request's metrics and its access line (every request, answered here or by the upstream). */
  finish(ctx: RequestContext): void {
    const route = ctx.route?.config.name ?? '(none)';
    const status = ctx.res.statusCode;
    const now = this.o.clock.now();
    const ms = now - ctx.startedAt;
    this.o.metrics.requests.record(route, status, ms / 1000);
    const url = ctx.req.url ?? '';
    const query = url.indexOf('?');
    const entry: AccessEntry = {
      request_id: ctx.requestId,
      route,
      method: ctx.req.method ?? '',
      path: query === -1 ? url : url.slice(0, query),
      status,
      duration_ms: ms,
      client_ip: ctx.clientIp,
    };
    if (ctx.upstreamStartedAt !== undefined) entry.upstream_ms = now - ctx.upstreamStartedAt;
    if (ctx.upstream !== undefined && ctx.route?.canary !== undefined) entry.upstream = ctx.upstream.name;
    const agent = ctx.req.headers['user-agent'];
    if (agent !== undefined) entry.user_agent = agent.length > USER_AGENT_MAX ? agent.slice(0, USER_AGENT_MAX) : agent;
    if (ctx.req.httpVersion === '2.0') entry.http_version = '2.0';
    if (ctx.grpcStatus !== undefined) {
      entry.grpc_status = ctx.grpcStatus;
      this.o.metrics.grpcCalls.labels(route, String(ctx.grpcStatus)).inc();
    }
    if (ctx.principal) {
      entry.sub = ctx.principal.sub;
      entry.client_id = ctx.principal.clientId;
    }
    this.accessLog.write(entry);
  }
}
