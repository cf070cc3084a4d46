import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { Counter } from 'prom-client';
import { GatehouseError, type Logger } from '../../core/index.js';
import { standInFor } from '../body_limit.js';
import type { GatewayMetrics } from '../gateway_metrics.js';
import type { RequestContext, StageRun } from '../pipeline.js';
import { grpcAnswerType, sendProblem } from '../problem_response.js';
import { queryParams } from './request_params.js';
import { inspectBody, inspectHead, type WafConfig, type WafVerdict } from './waf_rules.js';

/** Options of {@link createWafStages}. */
export interface WafStageOptions {
  metrics: GatewayMetrics;
  logger: Logger;
}

/** The two halves of the WAF: the head in the `waf` slot, the body after authorization. */
export interface WafStages {
  /** Request line, headers and query (runs before authentication). */
  head: StageRun;
  /** Reads the body (up to the route's `maxBody`) and checks its parameters; runs after authorization. */
  body: StageRun;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * First in the `waf` slot: an answer given before the request's body was read (a source refusal, a WAF block, 401,
 * 403, 429, ...) ends the connection instead of draining the body.
 *
 * @example
 * closeUnreadBodies(ctx); // first in the waf slot (src/gateway/gateway.ts)
 */
export const closeUnreadBodies = (ctx: RequestContext): void => {
  const req = ctx.req;
  if (hasBody(req)) {
    ctx.res.once('finish', () => {
      if (!req.complete) req.socket.destroy();
    });
  }
};

/** A stand-in for the consumed request: the buffered chunks, then whatever is still unread. */
function replay(req: IncomingMessage, chunks: Buffer[], rest: AsyncIterator<unknown> | undefined): IncomingMessage {
  async function* parts() {
    yield* chunks;
    if (!rest) return;
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value as Buffer;
  }
  return standInFor(req, Readable.from(parts(), { objectMode: false }));
}

/**
 * The WAF stages of the gateway. Each route's `waf` block decides: `block` answers 403 problem+json naming the rule
 * (`waf_rule`) and closes the connection if a body is still unread; `log` counts and logs the match and lets the
 * request through; `off` does nothing. Matches are counted in `gatehouse_gateway_waf_matches_total`.
 *
 * @example
 * const waf = createWafStages({ metrics, logger });
 * new Gateway({ config, clock, logger, stages: { waf: waf.head } });
 */
export function createWafStages(o: WafStageOptions): WafStages {
  const matches = new Counter({
    name: 'gatehouse_gateway_waf_matches_total',
    help: 'Requests matched by a WAF rule, by route, rule and action (block or log).',
    labelNames: ['route', 'rule', 'action'] as const,
    registers: [o.metrics.registry],
  });

  /** True when the request was answered (blocked). */
  const judge = (ctx: RequestContext, config: WafConfig, verdict: WafVerdict | undefined): boolean => {
    if (verdict === undefined) return false;
    const route = ctx.route!.config.name;
    const action = config.mode === 'block' ? 'block' : 'log';
    matches.labels(route, verdict.rule, action).inc();
    o.logger.info(
      { event: 'gateway_waf', request_id: ctx.requestId, route, rule: verdict.rule, where: verdict.where, action },
      'WAF rule matched',
    );
    if (action === 'log') return false;
    ctx.answered = true;
    // A body rule's block comes after the cors stage: a page of an allowed origin can read it.
    const headers: Record<string, string> = { ...ctx.responseHeaders };
    if (!ctx.req.complete && hasBody(ctx.req)) headers['connection'] = 'close';
    sendProblem(ctx, new GatehouseError('ERR_GATEWAY_WAF_BLOCKED', { detail: verdict.rule }), {
      headers,
      members: { waf_rule: verdict.rule },
    });
    return true;
  };

  const head: StageRun = (ctx) => {
    const req = ctx.req;
    const config = ctx.route!.config.waf;
    if (config.mode === 'off') return;
    judge(
      ctx,
      config,
      inspectHead(config, {
        method: req.method ?? '',
        url: req.url ?? '/',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
      }),
    );
  };

  const body: StageRun = (ctx) => {
    const config = ctx.route!.config.waf;
    const req = ctx.req;
    if (config.mode === 'off' || !hasBody(req)) return;
    // gRPC (and gRPC-Web) bodies are binary length-prefixed messages, often streamed both ways: buffering one would
    // stall the call. Only on a route whose upstream speaks gRPC (HTTP/2): elsewhere a gRPC media type is no reason to
    // skip the body rules (`application/grpc+json` to a JSON service would carry any payload past them).
    if (ctx.route!.upstream.http2 && grpcAnswerType(req.headers) !== undefined) return;
    return (async () => {
      const chunks: Buffer[] = [];
      let total = 0;
      let over = false;
      // Read by hand: leaving a for-await loop early would destroy the request, and log mode forwards the rest.
      const reader = req[Symbol.asyncIterator]();
      for (let next = await reader.next(); !next.done; next = await reader.next()) {
        chunks.push(next.value as Buffer);
        total += (next.value as Buffer).length;
        if (total > config.maxBody) {
          over = true;
          break;
        }
      }
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const verdict = over
        ? ({ rule: 'body_too_large', where: 'body' } as const)
        : inspectBody(
            config,
            String(req.headers['content-type'] ?? ''),
            Buffer.concat(chunks),
            q === -1 ? 0 : queryParams(url.slice(q + 1)).length,
          );
      if (judge(ctx, config, verdict)) return;
      ctx.req = replay(req, chunks, over ? reader : undefined);
    })();
  };

  return { head, body };
}
