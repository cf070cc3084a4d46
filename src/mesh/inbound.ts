import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { upstreamFailureKind, type Logger } from '../core/index.js';
import {
  cutAnswer,
  forwardedBody,
  forwardHeaders,
  isGrpc,
  MESH_REQUEST_TIMEOUT_MS,
  normalizedTarget,
  sendProblem,
  wantsUpgrade,
  XFCC_HEADER,
  xfccValue,
} from './http_forwarding.js';
import type { IdentitySource } from './identity_source.js';
import { AnswerExchange, UnrelayableAnswer } from './answer_exchange.js';
import { Http2Origin } from './http2_origin.js';
import { declaresBody } from './websocket_handshake.js';
import type { CallerLimits } from './limits.js';
import { forwardHandshake } from './handshake_exchange.js';
import type { PeerIdentity } from './peer_check.js';
import { evaluatePolicies, type AuthorizationPolicy } from './policy.js';
import type { TokenBindingCheck } from './ports.js';
import { logAccess, type SidecarAccess } from './sidecar_access.js';
import type { SidecarTunnels } from './sidecar_tunnels.js';
import { refuseBoundToken, tokenBindingAllows } from './token_binding.js';
import { sortUpgrade } from './upgrade_requests.js';

/** What the inbound side needs besides the listener. */
export interface InboundOptions {
  identity: IdentitySource;
  policies: readonly AuthorizationPolicy[];
  limits: CallerLimits;
  /** WebSocket tunnels (shared with the outbound side: one registry, a cap per side). */
  tunnels: SidecarTunnels;
  /** The local app on loopback, e.g. `127.0.0.1:8080`. */
  app: string;
  logger: Logger;
  /** Keep-alive connections to the app (default 32). */
  connections?: number;
  /** Time the app has for its response headers, and between body chunks (default 15 s); then 504. */
  timeoutMs?: number;
  /** `bindTokens`: refuse Bearer tokens bound to another client certificate (RFC 8705, see TokenBindingCheck). */
  tokenBinding?: TokenBindingCheck;
  /** Access lines of every request (unset: none). */
  access?: SidecarAccess;
  /**
   * How to speak to the app: `http1` (default; a keep-alive pool) or `h2c` (HTTP/2 with prior knowledge, one
   * multiplexed connection: what a gRPC server on loopback speaks).
   */
  appProtocol?: 'http1' | 'h2c';
}

/** Counters of the inbound request path, by outcome (exported as metrics). */
export interface InboundStats {
  /** Requests passed to the app (whatever it answered). */
  forwarded: number;
  /** 429: the caller's burst limit. */
  limited: number;
  /** 400: a request target that cannot be normalized. */
  badRequest: number;
  /** 403: the authorization policies. */
  denied: number;
  /** 401: a Bearer token bound to another client certificate. */
  tokenRefused: number;
  /** 502: the app did not answer. */
  appFailed: number;
  /** 504: the app did not send its response headers within the timeout. */
  appTimedOut: number;
}

/**
 * The inbound request path of a sidecar: caller burst limit (429), the request target normalized (400 when it cannot
 * be), authorization policies on that target (403), with `tokenBinding` the certificate binding of a Bearer token
 * (401), the caller's identity in `x-forwarded-client-cert` (a copy sent by the caller stripped; `Hash` is the
 * `x5t#S256` form), then the request, with the normalized target, to the app over a keep-alive pool on loopback. An
 * app that sends no response headers within `timeoutMs` gets the caller a 504 ERR_MESH_UPSTREAM_TIMEOUT; one that
 * stalls that long between body chunks has the answer cut (the caller's connection closed).
 *
 * @example
 * const inbound = new Inbound({ identity, policies, limits, app: '127.0.0.1:8080', logger });
 * new MtlsListener({ ..., handler: inbound.handler });
 */
export class Inbound {
  readonly stats: InboundStats = {
    forwarded: 0,
    limited: 0,
    badRequest: 0,
    denied: 0,
    tokenRefused: 0,
    appFailed: 0,
    appTimedOut: 0,
  };
  private readonly pool: Pool;
  /** With `appProtocol: h2c`: the app's HTTP/2 connection, for every request. */
  private readonly h2c: Http2Origin | undefined;
  private policies: readonly AuthorizationPolicy[];

  constructor(private readonly options: InboundOptions) {
    this.pool = new Pool(`http://${options.app}`, { connections: options.connections ?? 32, keepAliveTimeout: 30_000 });
    if (options.appProtocol === 'h2c') {
      this.h2c = new Http2Origin(`http://${options.app}`, {
        connectTimeout: 10_000,
        idleTimeout: 30_000,
        authorityFromHost: true,
      });
    }
    this.policies = options.policies;
  }

  /** Replaces the authorization policies (hot reload): every request after this call is judged by the new ones. */
  setPolicies(policies: readonly AuthorizationPolicy[]): void {
    this.policies = policies;
  }

  readonly handler = (req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined): void => {
    logAccess(this.options.access, 'inbound', req, res, { peer: peer?.spiffeId ?? 'plaintext' });
    void this.handle(req, res, peer);
  };

  /** Closes the pool to the app; called once the listener closed, so a request still in flight has no caller left. */
  async close(): Promise<void> {
    this.h2c?.destroy();
    await this.pool.destroy();
  }

  /**
   * Bound handler of the listener's `upgrade` event (a request with `Connection: upgrade`, answered through a response
   * on its socket; see MtlsListener): an offer of `h2c` alone is served as a plain request, a WebSocket handshake (a
   * GET without a body) walks the plain request's checks and then goes to the app; any other protocol, or WebSocket
   * with `sidecar.websocket: false`, gets 501.
   */
  readonly upgradeHandler = (req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined): void => {
    logAccess(this.options.access, 'inbound', req, res, { peer: peer?.spiffeId ?? 'plaintext' });
    const kind = sortUpgrade(req, res, this.options.tunnels.settings.websocket);
    if (kind === 'plain') void this.handle(req, res, peer);
    else if (kind === 'handshake') void this.handshake(req, res, peer);
  };

  /**
   * Everything before the app, for a request or a handshake alike: burst limit, target, policies, token binding. The
   * target and the headers to send (the caller's XFCC stripped, ours added), or undefined after answering.
   */
  private async admit(
    req: IncomingMessage,
    res: ServerResponse,
    peer: PeerIdentity | undefined,
  ): Promise<{ path: string; headers: Record<string, string | string[]> } | undefined> {
    const { identity, logger } = this.options;
    const method = req.method ?? 'GET';
    const decision = this.options.limits.admit(peer?.spiffeId ?? 'plaintext');
    if (!decision.allowed) {
      this.stats.limited++;
      sendProblem(res, 'ERR_RATE_LIMITED', { retryAfterMs: decision.retryAfterMs });
      return undefined;
    }
    // Policies judge, and the app receives, one and the same normalized target (never the raw one).
    const path = normalizedTarget(req, res, logger, peer);
    if (path === undefined) {
      this.stats.badRequest++; // answered 400 by normalizedTarget
      return undefined;
    }
    const verdict = evaluatePolicies(this.policies, { principal: peer?.spiffeId, method, path });
    if (!verdict.allowed) {
      this.stats.denied++;
      logger.info(
        { spiffeId: peer?.spiffeId, method, path, reason: verdict.reason, policy: verdict.policy },
        'request denied by policy',
      );
      sendProblem(res, 'ERR_MESH_FORBIDDEN', {
        reason: verdict.reason,
        ...(verdict.policy ? { policy: verdict.policy } : {}),
      });
      return undefined;
    }
    const binding = this.options.tokenBinding;
    if (binding !== undefined && !(await tokenBindingAllows(binding, req.headers, peer?.fingerprint))) {
      this.stats.tokenRefused++;
      logger.info({ spiffeId: peer?.spiffeId, method, path }, 'bearer token bound to another client certificate');
      refuseBoundToken(res);
      return undefined;
    }
    const ourId = identity.current?.spiffeId ?? '';
    const extra: Record<string, string> = peer ? { [XFCC_HEADER]: xfccValue(ourId, peer) } : {};
    if (req.headers.host) extra['x-forwarded-host'] = req.headers.host;
    return { path, headers: forwardHeaders(req.headers, extra) };
  }

  /**
   * A WebSocket handshake: the plain request's checks, a place under `tunnels.max` (503 ERR_MESH_TUNNELS_FULL), then
   * the app's 101 opens a tunnel; another answer is relayed as an ordinary response.
   */
  private async handshake(req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined): Promise<void> {
    const { logger, tunnels } = this.options;
    const admitted = await this.admit(req, res, peer);
    if (!admitted) return;
    if (this.h2c) {
      sendProblem(res, 'ERR_MESH_UPGRADE_UNSUPPORTED', { detail: 'the local app speaks HTTP/2 (appProtocol: h2c)' });
      return;
    }
    if (!tunnels.reserve('inbound', res, logger)) return;
    const timeout = this.options.timeoutMs ?? MESH_REQUEST_TIMEOUT_MS;
    const outcome = await forwardHandshake(this.pool, { ...admitted, timeoutMs: timeout }, res);
    if ('socket' in outcome) {
      this.stats.forwarded++;
      tunnels.switchTo('inbound', req, res, outcome, peer);
      return;
    }
    tunnels.release('inbound');
    if ('status' in outcome) {
      this.stats.forwarded++;
      tunnels.stats.inbound.refused++;
      return;
    }
    if (outcome.clientGone) return;
    tunnels.stats.inbound.failed++;
    this.appFailed(outcome.error, 'GET', admitted.path, timeout, res);
  }

  /** The app did not answer: 504 for a timeout, else 502. */
  private appFailed(err: unknown, method: string, path: string, timeout: number, res: ServerResponse): void {
    const { logger } = this.options;
    if (upstreamFailureKind(err) === 'timeout') {
      this.stats.appTimedOut++;
      logger.warn({ err: (err as Error).message, method, path, timeoutMs: timeout }, 'local app timed out');
      sendProblem(res, 'ERR_MESH_UPSTREAM_TIMEOUT', { detail: 'the local app did not answer in time' });
      return;
    }
    this.stats.appFailed++;
    logger.warn({ err: (err as Error).message, method, path }, 'local app unreachable');
    sendProblem(res, 'ERR_MESH_UPSTREAM_FAILED', { detail: 'the local app did not answer' });
  }

  /**
   * A request to the app: one exchange on its keep-alive pool (HTTP/1.1) or one stream (h2c), the answer relayed as it
   * comes, with its trailers (gRPC's status). A caller that leaves aborts the exchange at once, with or without a body
   * (the app sees its connection or stream reset, not a request left to the timeout).
   */
  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    app: Pool | Http2Origin,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    timeout: number,
  ): void {
    const { logger } = this.options;
    app.dispatch(
      {
        method: method as Dispatcher.HttpMethod,
        path,
        headers,
        body: declaresBody(req) ? forwardedBody(req) : null,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      },
      new AnswerExchange(res, (outcome) => {
        if ('status' in outcome) {
          this.stats.forwarded++;
          return;
        }
        if (outcome.clientGone || res.destroyed) {
          if (res.headersSent) this.stats.forwarded++; // the caller left mid-answer
          return; // nobody to answer
        }
        if (!res.headersSent) {
          if (!(outcome.error instanceof UnrelayableAnswer)) {
            this.appFailed(outcome.error, method, path, timeout, res);
            return;
          }
          // An answer the caller's protocol cannot carry (HTTP/2: a status past 599, a repeated single-value field).
          this.stats.appFailed++;
          logger.warn({ err: outcome.error.message, method, path }, 'local app answer cannot be relayed');
          sendProblem(res, 'ERR_MESH_UPSTREAM_FAILED', { detail: 'the answer of the local app cannot be relayed' });
          return;
        }
        this.stats.forwarded++;
        cutAnswer(res, outcome.error, logger, 'local app', { method, path }, timeout);
      }),
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse, peer: PeerIdentity | undefined): Promise<void> {
    const method = req.method ?? 'GET';
    if (wantsUpgrade(req)) {
      // A protocol switch without `Connection: upgrade` (the `upgrade` event takes the others) is no handshake: it
      // would reach the app as a plain request without its hop-by-hop Upgrade.
      sendProblem(res, 'ERR_MESH_UPGRADE_UNSUPPORTED');
      return;
    }
    const admitted = await this.admit(req, res, peer);
    if (!admitted) return;
    const { path, headers } = admitted;
    const timeout = this.options.timeoutMs ?? MESH_REQUEST_TIMEOUT_MS;
    if (this.h2c === undefined && isGrpc(req)) {
      sendProblem(res, 'ERR_MESH_GRPC_NEEDS_HTTP2', { detail: 'the local app speaks HTTP/1.1 (appProtocol: http1)' });
      return;
    }
    this.forward(req, res, this.h2c ?? this.pool, method, path, headers, timeout);
  }
}
