import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { upstreamFailureKind, type Logger } from '../core/index.js';
import type { BreakerPermit } from '../ratelimit/index.js';
import type { ConnectorStats } from './connector.js';
import { AppListener } from './app_listener.js';
import { forwardHandshake } from './handshake_exchange.js';
import { Http2Origin } from './http2_origin.js';
import {
  forwardHeaders,
  isGrpc,
  MESH_REQUEST_TIMEOUT_MS,
  PEER_FAILURE_STATUSES,
  sendProblem,
  wantsUpgrade,
} from './http_forwarding.js';
import type { IdentitySource } from './identity_source.js';
import type { UpstreamBreakers } from './limits.js';
import type { PeerChecker } from './peer_check.js';
import type { ForwardSide } from './forward_side.js';
import { forwardRequest } from './outbound_exchange.js';
import type { RetryPolicy, RetryReason } from './retry_policy.js';
import { logAccess, type SidecarAccess } from './sidecar_access.js';
import type { SidecarTunnels } from './sidecar_tunnels.js';
import { sortUpgrade } from './upgrade_requests.js';
import { UpstreamPools, type MeshUpstream, type UpstreamPool } from './upstream_pools.js';
import { upgradeResponse } from './websocket_handshake.js';

/** Counters of the outbound request path, by outcome (exported as metrics). */
export interface OutboundRequestStats {
  /** Answers of a peer passed to the app (whatever their status). */
  forwarded: number;
  /** 404: the Host names no upstream. */
  unknownService: number;
  /** 503: the sidecar holds no valid SVID. */
  noIdentity: number;
  /** 503: the upstream's breaker is open. */
  circuitOpen: number;
  /** 502: the peer could not be reached, or its identity was refused. */
  failed: number;
  /** 504: the peer sent no response headers within the upstream's timeout. */
  timedOut: number;
  /** Attempts sent again, by why the one before failed. */
  retries: Record<RetryReason, number>;
  /** Failed attempts not retried because the upstream's retry budget was spent. */
  retryOverflow: number;
}

/** Options of {@link Outbound}. */
export interface OutboundOptions {
  identity: IdentitySource;
  checker: PeerChecker;
  upstreams: readonly MeshUpstream[];
  breakers: UpstreamBreakers;
  /** WebSocket tunnels (shared with the inbound side: one registry, a cap per side). */
  tunnels: SidecarTunnels;
  logger: Logger;
  /** Keep-alive connections per upstream (default 32). */
  connections?: number;
  /** Requests per connection before it is replaced (default unlimited). */
  maxRequestsPerConnection?: number;
  /** Access lines of every request (unset: none). */
  access?: SidecarAccess;
  /** Accept HTTP/2 with prior knowledge (h2c, as gRPC clients speak without TLS) from the app beside HTTP/1.1. */
  http2?: boolean;
}

/**
 * The outbound side of a sidecar: plain HTTP from the local app on loopback, the peer chosen by the Host header's
 * service name, mTLS to the peer's sidecar over a keep-alive pool with our server-identity check, a circuit breaker
 * per upstream (503 while open), a timeout per upstream (504 when no response headers come in time; an answer that
 * stalls between body chunks is cut). Failures, timeouts and 502/503/504 answers count against the breaker; a caller
 * that leaves counts for nothing.
 *
 * @example
 * const outbound = new Outbound({ identity, checker, upstreams, breakers, logger });
 * await outbound.listen('127.0.0.1', 15101);
 */
export class Outbound {
  readonly stats: ConnectorStats = { connected: 0, resumed: 0, refused: 0 };
  readonly requests: OutboundRequestStats = {
    forwarded: 0,
    unknownService: 0,
    noIdentity: 0,
    circuitOpen: 0,
    failed: 0,
    timedOut: 0,
    retries: { 'connect-failure': 0, 'refused-stream': 0, reset: 0, status: 0 },
    retryOverflow: 0,
  };
  private readonly pools: UpstreamPools;
  private readonly listener: AppListener;
  /** What the forwarding loop (outbound_exchange.ts) borrows from this side. */
  private readonly forwardSide: ForwardSide;

  constructor(private readonly options: OutboundOptions) {
    this.pools = new UpstreamPools({
      identity: options.identity,
      checker: options.checker,
      stats: this.stats,
      logger: options.logger,
      connections: options.connections,
      maxRequestsPerConnection: options.maxRequestsPerConnection,
    });
    this.setUpstreams(options.upstreams);
    this.forwardSide = {
      logger: this.options.logger,
      requests: this.requests,
      reserveRetry: (entry, policy) => this.reserveRetry(entry, policy),
      retryPool: (name, http2, permit, res) => this.retryPool(name, http2, permit, res),
      backoff: (entry, name, reason, attempt, res) => this.backoff(entry, name, reason, attempt, res),
      failed: (err, name, timeout, permit, res) => this.failed(err, name, timeout, permit, res),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      logAccess(options.access, 'outbound', req, res, { upstream: serviceName(req) });
      this.handle(req, res);
    };
    this.listener = new AppListener({
      onRequest,
      onUpgrade: (req, socket, head) => this.onUpgrade(req, socket, head),
      http2: options.http2 === true,
      logger: options.logger,
    });
  }

  /**
   * Replaces the peer services (hot reload). An upstream whose name, address and SPIFFE ID are unchanged keeps its
   * pool (open connections, cached TLS sessions) and breaker, and takes its new timeout; a removed or changed one
   * gets no new requests and its pool closes once the requests in flight on it have finished.
   */
  setUpstreams(upstreams: readonly MeshUpstream[]): void {
    for (const name of this.pools.replace(upstreams)) this.options.breakers.forget(name);
    this.options.access?.durations.setUpstreams(upstreams.map((u) => u.name));
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return this.listener.listen(host, port);
  }

  /**
   * Stops accepting, gives the requests in flight `graceMs` (default 2 s) to finish, then closes every connection
   * and the pools (a request still waiting on a peer then has no caller left).
   */
  async close(graceMs = 2_000): Promise<void> {
    await this.listener.close(graceMs);
    await this.pools.destroy();
  }

  /**
   * A request on the server's `upgrade` event, its socket no longer read as HTTP: answered through a response on the
   * socket, closed after that answer unless it becomes a tunnel. An offer of `h2c` alone is served as a plain request
   * (HTTP lets a server ignore it); a WebSocket handshake (a GET without a body) goes to the peer; any other protocol,
   * or WebSocket with `sidecar.websocket: false`, gets 501.
   */
  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy()); // the server's own handler left with the upgrade
    if (head.length > 0) socket.unshift(head); // the caller's first bytes of the new protocol, for the tunnel
    const res = upgradeResponse(req, socket);
    logAccess(this.options.access, 'outbound', req, res, { upstream: serviceName(req) });
    const kind = sortUpgrade(req, res, this.options.tunnels.settings.websocket);
    if (kind === 'plain') this.handle(req, res);
    else if (kind === 'handshake') void this.handshake(req, res);
  }

  /** The upstream named by the Host, our SVID and the upstream's breaker permit, or undefined after answering. */
  private admit(
    req: IncomingMessage,
    res: ServerResponse,
  ): { name: string; entry: UpstreamPool; permit: BreakerPermit } | undefined {
    const name = serviceName(req);
    const entry = this.pools.get(name);
    if (!entry) {
      this.requests.unknownService++;
      sendProblem(res, 'ERR_MESH_UNKNOWN_SERVICE', {
        detail: `no upstream named ${JSON.stringify(name.slice(0, 64))}`,
      });
      return undefined;
    }
    if (!this.options.identity.current) {
      this.requests.noIdentity++;
      sendProblem(res, 'ERR_MESH_IDENTITY_UNAVAILABLE');
      return undefined;
    }
    const permit = this.options.breakers.of(name).tryAcquire();
    if (!permit.ok) {
      this.requests.circuitOpen++;
      sendProblem(res, 'ERR_CIRCUIT_OPEN', { retryAfterMs: permit.retryAfterMs, upstream: name });
      return undefined;
    }
    return { name, entry, permit };
  }

  /**
   * A WebSocket handshake: admitted as a plain request (service name, SVID, breaker), a place under `tunnels.max`
   * (503 ERR_MESH_TUNNELS_FULL), then sent to the peer over the upstream's mTLS pool. Its 101 opens a tunnel; another
   * answer is relayed as an ordinary response. The breaker counts it as a request (a failure, a timeout or a
   * 502/503/504 is a failure).
   */
  private async handshake(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { logger, tunnels } = this.options;
    if (!tunnels.reserve('outbound', res, logger)) return;
    const admitted = this.admit(req, res);
    if (!admitted) {
      tunnels.release('outbound');
      return;
    }
    const { name, entry, permit } = admitted;
    if (entry.pool instanceof Http2Origin) {
      // WebSocket over HTTP/2 is RFC 8441's extended CONNECT, which the sidecars do not speak to each other.
      permit.release();
      tunnels.release('outbound');
      sendProblem(res, 'ERR_MESH_UPGRADE_UNSUPPORTED', { detail: `upstream ${name} speaks HTTP/2 (protocol: h2)` });
      return;
    }
    const timeout = entry.upstream.timeoutMs ?? MESH_REQUEST_TIMEOUT_MS;
    const outcome = await forwardHandshake(
      entry.pool,
      { path: req.url ?? '/', headers: forwardHeaders(req.headers, { host: name }), timeoutMs: timeout },
      res,
    );
    if ('socket' in outcome) {
      permit.done(true);
      this.requests.forwarded++;
      tunnels.switchTo('outbound', req, res, outcome);
      return;
    }
    tunnels.release('outbound');
    if ('status' in outcome) {
      permit.done(!PEER_FAILURE_STATUSES.has(outcome.status));
      this.requests.forwarded++;
      tunnels.stats.outbound.refused++;
      return;
    }
    if (outcome.clientGone) {
      permit.release();
      return;
    }
    tunnels.stats.outbound.failed++;
    this.failed(outcome.error, name, timeout, permit, res);
  }

  /** An exchange that failed before any answer: the breaker told, 504 or 502 to the app. */
  private failed(err: unknown, name: string, timeout: number, permit: BreakerPermit, res: ServerResponse): void {
    const { logger } = this.options;
    const kind = upstreamFailureKind(err);
    if (kind === 'refused')
      permit.release(); // never sent: says nothing of the peer's health
    else permit.done(false);
    if (kind === 'timeout') {
      this.requests.timedOut++;
      logger.warn({ err: (err as Error).message, upstream: name, timeoutMs: timeout }, 'upstream sidecar timed out');
      sendProblem(res, 'ERR_MESH_UPSTREAM_TIMEOUT', { upstream: name });
      return;
    }
    this.requests.failed++;
    logger.warn({ err: (err as Error).message, upstream: name }, 'upstream sidecar failed');
    sendProblem(res, 'ERR_MESH_UPSTREAM_FAILED', { upstream: name });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (wantsUpgrade(req)) {
      // A protocol switch without `Connection: upgrade` (the `upgrade` event takes the others) is no handshake: it
      // would reach the peer as a plain request without its hop-by-hop Upgrade.
      sendProblem(res, 'ERR_MESH_UPGRADE_UNSUPPORTED');
      return;
    }
    const admitted = this.admit(req, res);
    if (!admitted) return;
    const { name, entry, permit } = admitted;
    if (!(entry.pool instanceof Http2Origin) && isGrpc(req)) {
      permit.release();
      sendProblem(res, 'ERR_MESH_GRPC_NEEDS_HTTP2', { upstream: name, detail: `upstream ${name} speaks HTTP/1.1` });
      return;
    }
    forwardRequest(this.forwardSide, req, res, name, entry, permit);
  }

  /** A place in the upstream's retry budget, or the overflow counted. */
  private reserveRetry(entry: UpstreamPool, policy: RetryPolicy): boolean {
    if (policy.reserve(entry.inFlight)) return true;
    this.requests.retryOverflow++;
    return false;
  }

  /**
   * The upstream's pool in force for a retry: a reload during the backoff may have replaced it (the old one is
   * closing), removed the upstream or changed its protocol. Undefined after the app got its answer (the permit given
   * back: the peer was not judged).
   */
  private retryPool(
    name: string,
    http2: boolean,
    permit: BreakerPermit,
    res: ServerResponse,
  ): Pool | Http2Origin | undefined {
    const pool = this.pools.get(name)?.pool;
    if (pool === undefined) {
      permit.release();
      this.requests.unknownService++;
      sendProblem(res, 'ERR_MESH_UNKNOWN_SERVICE', { detail: `upstream ${name} was removed by a reload` });
      return undefined;
    }
    if (pool instanceof Http2Origin !== http2) {
      // The request was shaped for the other protocol (an HTTP/1.1 body, an HTTP/2 stream's fields).
      permit.release();
      this.requests.failed++;
      sendProblem(res, 'ERR_MESH_UPSTREAM_FAILED', { upstream: name, detail: 'its protocol changed by a reload' });
      return undefined;
    }
    return pool;
  }

  /** Counts retry `attempt + 1` and waits its backoff: false when the app left meanwhile. */
  private async backoff(
    entry: UpstreamPool,
    name: string,
    reason: RetryReason,
    attempt: number,
    res: ServerResponse,
  ): Promise<boolean> {
    this.requests.retries[reason]++;
    this.options.logger.debug({ upstream: name, reason, attempt: attempt + 2 }, 'retrying the upstream sidecar');
    await sleep(entry.retry.backoffMs(attempt + 1));
    return !res.destroyed;
  }
}

/** The upstream service a request of the local app names: its Host without the port, lowercase. */
function serviceName(req: IncomingMessage): string {
  return (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
}
