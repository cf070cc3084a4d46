import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BreakerPermit } from '../ratelimit/index.js';
import type { GatewayPrincipal } from './authenticator.js';
import type { CompiledRoute } from './gateway_state.js';
import type { Upstream } from './upstream.js';

/**
 * The fixed stages of a gateway request, in order (docs/gateway.md draws them). `waf` and `cache` are named slots
 * that do nothing until their stages are plugged in.
 */
export const STAGE_NAMES = [
  'request_id',
  'limits',
  'waf',
  'cors',
  'authentication',
  'rate_limit',
  'authorization',
  'cache',
  'shedding',
  'proxy',
] as const;

export type StageName = (typeof STAGE_NAMES)[number];

/** Everything the stages know about one request. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Clock reading (ms) at arrival. */
  startedAt: number;
  /** Clock reading (ms) when the request was handed to the upstream (undefined: answered by the gateway itself). */
  upstreamStartedAt: number | undefined;
  requestId: string;
  /**
   * The request target as routing and the cache key see it (`normalizeRequestTarget` of `req.url`: `/%61dmin` and
   * `//x/../admin` are `/admin`). The WAF inspects the target as sent.
   */
  target: string;
  /** The target sent upstream: {@link target}, or with the route's `prefixRewrite` applied. */
  upstreamTarget: string;
  clientIp: string;
  /** The socket peer when it is a trusted proxy. */
  trustedPeer: string | undefined;
  route: CompiledRoute | undefined;
  principal: GatewayPrincipal | undefined;
  /**
   * The Strict-Transport-Security value of `gateway.hsts` when the request arrived (undefined: off). Every answer
   * carries it unless the upstream's has its own; it is put into each answer's one header object, as the rest are, not
   * set ahead with `setHeader` (node's `writeHead` then takes a slower path for every field).
   */
  hsts: string | undefined;
  /** Headers added to the final response (RateLimit, ...). */
  responseHeaders: Record<string, string> | undefined;
  /**
   * The upstream the request goes to, once drawn (`upstreamOf` in request_routing.ts): the route's, or its canary's.
   * Stages before the draw that read the route's upstream (`http2`) may: a canary speaks its primary's protocol.
   */
  upstream: Upstream | undefined;
  /** The breaker permit of the shedding stage, consumed by the proxy stage. */
  permit: BreakerPermit | undefined;
  /** A gRPC call's status: the gateway's refusal (a Trailers-Only answer) or the upstream's trailer (`grpc_status`). */
  grpcStatus: number | undefined;
  /** Set by a stage that answered the request itself (a block, a cache hit, a 429): later stages are skipped. */
  answered: boolean;
}

/** A stage: may finish synchronously (no promise on the fast path) and throws GatehouseError to refuse. */
export type StageRun = (ctx: RequestContext) => void | Promise<void>;

export interface Stage {
  name: StageName;
  run: StageRun;
}

/** A stage that does nothing (the `waf` and `cache` slots by default). */
export const noopStage: StageRun = () => {};

/**
 * The pipeline in {@link STAGE_NAMES} order from one run function per name.
 *
 * @example
 * const stages = buildPipeline({ ...runs, waf: noopStage, cache: noopStage });
 */
export function buildPipeline(runs: Record<StageName, StageRun>): readonly Stage[] {
  return STAGE_NAMES.map((name) => ({ name, run: runs[name] }));
}

async function continueFrom(stages: readonly Stage[], ctx: RequestContext, i: number, pending: Promise<void>) {
  await pending;
  for (let j = i + 1; j < stages.length && !ctx.answered; j += 1) {
    const r = (stages[j] as Stage).run(ctx);
    if (r !== undefined) await r; // a stage that finished synchronously costs no microtask turn
  }
}

/**
 * Runs the stages in order until one answers; synchronous until the first stage that returns a promise.
 *
 * @example
 * const done = runPipeline(stages, ctx);
 * if (done) await done;
 */
export function runPipeline(stages: readonly Stage[], ctx: RequestContext): void | Promise<void> {
  for (let i = 0; i < stages.length && !ctx.answered; i += 1) {
    const r = (stages[i] as Stage).run(ctx);
    // The last stage's promise (the proxy's, on every forwarded request) is the pipeline's own: no wrapper.
    if (r !== undefined) return i === stages.length - 1 ? r : continueFrom(stages, ctx, i, r);
  }
}
