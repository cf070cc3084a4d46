import { GatehouseError, type Clock, type Tunnels } from '../core/index.js';
import { declaresBody, offersWebSocket, wantsUpgrade } from '../mesh/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { upstreamOf } from './request_routing.js';
import type { RequestContext, StageRun } from './pipeline.js';
import { switchingProtocols } from './websocket_handshake.js';

/** What the WebSocket stages take from the gateway: its own stages and state. */
export interface WebSocketStageOptions {
  /** Request id, client address and route (the first half of the plain `request_id` stage). */
  route: (ctx: RequestContext) => void;
  /** The plain `shedding` stage: breaker permit, then bulkhead slot. */
  shed: StageRun;
  /** The headers a request is forwarded with. */
  forwardHeaders: (ctx: RequestContext) => Record<string, string>;
  tunnels: Tunnels;
  metrics: GatewayMetrics;
  clock: Clock;
}

/**
 * The stages a WebSocket handshake takes in place of a plain request's (docs/gateway.md "WebSocket"); every other
 * stage is the plain one, and `cache` is skipped by the caller.
 *
 * - `request_id`: routing as for any request, then only a WebSocket handshake (a GET without a body: RFC 6455 §4.1)
 *   on a route with `websocket: true` goes on; other protocols get 501, a body or another method 400 (the bytes after
 *   the header section belong to the upgraded connection).
 * - `shedding`: a place under the upstream's `tunnels.max` (503 ERR_GATEWAY_TUNNELS_FULL), then the breaker and the
 *   bulkhead as for any request. The bulkhead slot is held until the upstream answers the handshake, not for the
 *   tunnel's life: long-lived, mostly idle tunnels would otherwise take the upstream's request concurrency from plain
 *   requests (tunnels have their own cap instead).
 * - `proxy`: the handshake to the upstream, then its 101 relayed and a tunnel opened on the two connections; an
 *   upstream that answers otherwise has that answer relayed as an ordinary response.
 *
 * @example
 * const stages = buildPipeline({ ...plain, ...createWebSocketStages(options), cache: noopStage });
 */
export function createWebSocketStages(o: WebSocketStageOptions): {
  request_id: StageRun;
  shedding: StageRun;
  proxy: StageRun;
} {
  const handshake = (ctx: RequestContext): void => {
    o.route(ctx);
    const { req } = ctx;
    if (!wantsUpgrade(req)) {
      throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
        message: 'a request offering an upgrade to h2c cannot carry a body here (h2c is not spoken over TLS)',
      });
    }
    if (!offersWebSocket(req) || !ctx.route!.config.websocket) {
      throw new GatehouseError('ERR_GATEWAY_UPGRADE_UNSUPPORTED');
    }
    if (req.method !== 'GET' || declaresBody(req)) {
      throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
        message: 'a WebSocket handshake is a GET without a body (RFC 6455 section 4.1)',
      });
    }
  };

  const shedding = (ctx: RequestContext): void | Promise<void> => {
    const upstream = upstreamOf(ctx, o.metrics);
    o.tunnels.reserve(upstream.name, upstream.tunnels.max);
    const giveBack = (err: unknown) => {
      o.tunnels.release(upstream.name);
      throw err;
    };
    try {
      const pending = o.shed(ctx);
      if (pending) return pending.catch(giveBack);
    } catch (err) {
      giveBack(err);
    }
  };

  const proxy = async (ctx: RequestContext): Promise<void> => {
    const upstream = upstreamOf(ctx, o.metrics);
    ctx.upstreamStartedAt = o.clock.now();
    let upgraded: Awaited<ReturnType<typeof upstream.upgrade>>;
    try {
      upgraded = await upstream.upgrade(
        {
          req: ctx.req,
          res: ctx.res,
          path: ctx.upstreamTarget,
          headers: o.forwardHeaders(ctx),
          requestId: ctx.requestId,
          responseHeaders: ctx.responseHeaders,
          hsts: ctx.hsts,
          ownsCors: ctx.route!.cors !== undefined,
          headerRules: ctx.route!.headers,
        },
        ctx.permit!,
      );
    } catch (err) {
      o.tunnels.release(upstream.name);
      o.metrics.tunnels.labels(upstream.name, 'failed').inc();
      throw err;
    }
    const client = ctx.req.socket;
    if (upgraded === undefined || client.destroyed) {
      o.tunnels.release(upstream.name);
      upgraded?.socket.destroy();
      if (ctx.res.headersSent) o.metrics.tunnels.labels(upstream.name, 'refused').inc();
      return;
    }
    ctx.res.detachSocket(client);
    ctx.res.statusCode = 101;
    client.write(switchingProtocols(upgraded.headers, ctx.requestId, ctx.responseHeaders));
    o.tunnels.open(upstream.name, client, upgraded.socket, upstream.tunnels.idleTimeout);
    o.metrics.tunnels.labels(upstream.name, 'upgraded').inc();
  };

  return { request_id: handshake, shedding, proxy };
}
