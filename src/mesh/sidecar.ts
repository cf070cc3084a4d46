import type { AddressInfo } from 'node:net';
import { AccessLog, type Clock, type Logger } from '../core/index.js';
import type { RateLimit } from '../ratelimit/index.js';
import { IdentitySource } from './identity_source.js';
import { Inbound } from './inbound.js';
import type { SidecarAccess, SidecarAccessEntry } from './sidecar_access.js';
import { SidecarDurations } from './sidecar_durations.js';
import { CallerLimits, UpstreamBreakers, type UpstreamBreakerOptions } from './limits.js';
import { MtlsListener, type MtlsMode } from './mtls_listener.js';
import { Outbound } from './outbound.js';
import { PeerChecker } from './peer_check.js';
import type { AuthorizationPolicy } from './policy.js';
import type { CertificateAuthorityClient, SvidMaterial, TokenBindingCheck } from './ports.js';
import { sidecarMetricsText, type SidecarStats } from './sidecar_metrics.js';
import { DEFAULT_TUNNEL_SETTINGS, SidecarTunnels, type TunnelSettings } from './sidecar_tunnels.js';
import type { MeshUpstream } from './upstream_pools.js';

/** Everything a sidecar needs (config `sidecar` section, or the demo mesh of `gatehouse up`). */
export interface SidecarOptions {
  client: CertificateAuthorityClient;
  /** The bootstrap credential (join token). */
  credential: () => string | Promise<string>;
  /** The SPIFFE ID the credential must be bound to (config `sidecar.spiffeId`; checked by the CA before it uses it). */
  spiffeId?: string;
  trustDomain: string;
  clock: Clock;
  logger: Logger;
  mode: MtlsMode;
  policies: readonly AuthorizationPolicy[];
  /**
   * `timeoutMs`: time the app has for its response headers, and between body chunks (default 15 s); `http2`: offer
   * ALPN `h2` to peers; `appProtocol`: `h2c` to speak HTTP/2 to the app (gRPC), default `http1`.
   */
  inbound: {
    host: string;
    port: number;
    app: string;
    timeoutMs?: number;
    http2?: boolean;
    appProtocol?: 'http1' | 'h2c';
  };
  /** `http2`: accept h2c with prior knowledge from the app beside HTTP/1.1. */
  outbound?: { host: string; port: number; upstreams: readonly MeshUpstream[]; http2?: boolean };
  /** Per-caller burst limit on the inbound side (unset: none). */
  callerLimit?: RateLimit;
  breaker?: UpstreamBreakerOptions;
  renewAtFraction?: number;
  renewJitterFraction?: number;
  ticketKeyRotationMs?: number;
  /** Outbound: requests per connection before it is replaced (default unlimited). */
  maxRequestsPerConnection?: number;
  /** Inbound `bindTokens`: refuse Bearer tokens bound to another client certificate (app/compose.ts wires it). */
  tokenBinding?: TokenBindingCheck;
  /** WebSocket through the sidecar: on, at most 1024 tunnels a side, 60 s idle timeout unless set. */
  tunnels?: TunnelSettings;
  /** How long {@link Sidecar.stop} lets requests in flight finish before it closes their connections (default 10 s). */
  drainMs?: number;
  /** How often the callers of open inbound WebSocket tunnels are checked again (default 1 s; tests shorten it). */
  tunnelRecheckMs?: number;
  /** One access line per request on each side, `log: "access"` (default true). */
  accessLog?: boolean;
}

/** What a hot reload of a running sidecar replaces (see {@link Sidecar.reload}). */
export interface SidecarReload {
  policies: readonly AuthorizationPolicy[];
  /** The peer services; a sidecar started without an outbound listener opens one at `host:port` for them. */
  outbound?: { host: string; port: number; upstreams: readonly MeshUpstream[]; http2?: boolean };
  /** Per-caller burst limit (unset: none). */
  callerLimit?: RateLimit;
  breaker?: UpstreamBreakerOptions;
  /** WebSocket settings for new handshakes (open tunnels keep theirs); unset: the defaults. */
  tunnels?: TunnelSettings;
}

const DEFAULT_BREAKER: UpstreamBreakerOptions = { consecutiveFailures: 5, openDurationMs: 10_000 };

/** The parts of a sidecar a reload touches. */
interface SidecarParts {
  identity: IdentitySource;
  checker: PeerChecker;
  listener: MtlsListener;
  inbound: Inbound;
  limits: CallerLimits;
  breakers: UpstreamBreakers;
  tunnels: SidecarTunnels;
  outbound: Outbound | undefined;
  /** Access lines (unless `accessLog: false`) and request durations of both sides. */
  access: SidecarAccess;
}

/**
 * A running sidecar: inbound mTLS listener in front of the local app, outbound loopback listener for the app's calls,
 * one identity rotating under both.
 *
 * @example
 * const sidecar = await Sidecar.start({ client, credential: () => token, trustDomain, clock, logger,
 *   mode: 'STRICT', policies, inbound: { host: '127.0.0.1', port: 15001, app: '127.0.0.1:8080' } });
 * await sidecar.renewNow();
 */
export class Sidecar {
  readonly identity: IdentitySource;

  private constructor(
    private readonly parts: SidecarParts,
    private readonly options: SidecarOptions,
    /** Where peers reach this sidecar (mTLS). */
    readonly inboundAddress: AddressInfo,
    private outboundBound: AddressInfo | undefined,
  ) {
    this.identity = parts.identity;
  }

  /** Where the local app sends its plain HTTP calls (undefined while the sidecar has no outbound listener). */
  get outboundAddress(): AddressInfo | undefined {
    return this.outboundBound;
  }

  static async start(options: SidecarOptions): Promise<Sidecar> {
    const { clock, logger } = options;
    const identity = new IdentitySource({
      client: options.client,
      credential: options.credential,
      ...(options.spiffeId === undefined ? {} : { spiffeId: options.spiffeId }),
      clock,
      logger: logger.child({ component: 'identity' }),
      ...(options.renewAtFraction === undefined ? {} : { renewAtFraction: options.renewAtFraction }),
      ...(options.renewJitterFraction === undefined ? {} : { jitterFraction: options.renewJitterFraction }),
    });
    await identity.start();
    const checker = new PeerChecker({ trustDomain: options.trustDomain, clock, denyList: () => identity.denyList });
    const limits = new CallerLimits({ clock, ...(options.callerLimit ? { limit: options.callerLimit } : {}) });
    const breakers = new UpstreamBreakers({ clock, ...(options.breaker ?? DEFAULT_BREAKER) });
    const tunnels = new SidecarTunnels(options.tunnels ?? DEFAULT_TUNNEL_SETTINGS);
    tunnels.watchPeers((peer) => checker.recheck(peer), logger.child({ side: 'inbound' }), options.tunnelRecheckMs);
    const access: SidecarAccess = {
      log: options.accessLog === false ? undefined : new AccessLog<SidecarAccessEntry>(logger.child({ log: 'access' })),
      durations: new SidecarDurations(),
      clock,
    };
    const inbound = new Inbound({
      identity,
      policies: options.policies,
      limits,
      tunnels,
      app: options.inbound.app,
      ...(options.inbound.timeoutMs === undefined ? {} : { timeoutMs: options.inbound.timeoutMs }),
      ...(options.inbound.appProtocol === undefined ? {} : { appProtocol: options.inbound.appProtocol }),
      logger: logger.child({ side: 'inbound' }),
      ...(options.tokenBinding ? { tokenBinding: options.tokenBinding } : {}),
      access,
    });
    const listener = new MtlsListener({
      identity,
      checker,
      mode: options.mode,
      logger: logger.child({ side: 'inbound' }),
      handler: inbound.handler,
      upgradeHandler: inbound.upgradeHandler,
      ...(options.inbound.http2 ? { http2: true } : {}),
      ...(options.renewAtFraction === undefined ? {} : { renewAtFraction: options.renewAtFraction }),
      ...(options.ticketKeyRotationMs === undefined ? {} : { ticketKeyRotationMs: options.ticketKeyRotationMs }),
    });
    let outbound: Outbound | undefined;
    try {
      const inboundAddress = await listener.listen(options.inbound.host, options.inbound.port);
      let outboundAddress: AddressInfo | undefined;
      const parts: SidecarParts = {
        identity,
        checker,
        listener,
        inbound,
        limits,
        breakers,
        tunnels,
        outbound: undefined,
        access,
      };
      if (options.outbound) {
        outbound = Sidecar.outbound(parts, options, options.outbound);
        outboundAddress = await outbound.listen(options.outbound.host, options.outbound.port);
        parts.outbound = outbound;
      }
      return new Sidecar(parts, options, inboundAddress, outboundAddress);
    } catch (err) {
      identity.stop();
      tunnels.closeAll();
      await listener.close();
      await inbound.close();
      await outbound?.close();
      throw err;
    }
  }

  private static outbound(
    parts: SidecarParts,
    options: SidecarOptions,
    side: { upstreams: readonly MeshUpstream[]; http2?: boolean },
  ): Outbound {
    return new Outbound({
      identity: parts.identity,
      checker: parts.checker,
      upstreams: side.upstreams,
      ...(side.http2 ? { http2: true } : {}),
      breakers: parts.breakers,
      tunnels: parts.tunnels,
      logger: options.logger.child({ side: 'outbound' }),
      ...(options.maxRequestsPerConnection ? { maxRequestsPerConnection: options.maxRequestsPerConnection } : {}),
      access: parts.access,
    });
  }

  /** Renews the SVID now (the forced-renew hook). */
  renewNow(): Promise<SvidMaterial> {
    return this.identity.renewNow();
  }

  /**
   * Hot reload: swaps the authorization policies, the peer services and the local limits without touching open
   * connections (requests after the call see the new settings; an unchanged upstream keeps its pool and breaker, a
   * removed one drains). Listener addresses, mode and identity stay as started. When a new outbound listener has to
   * be opened and cannot bind, nothing is changed and the error is thrown.
   *
   * @example
   * await sidecar.reload({ policies, outbound: { host: '127.0.0.1', port: 15101, upstreams }, breaker });
   */
  async reload(next: SidecarReload): Promise<void> {
    const { parts } = this;
    const upstreams = next.outbound?.upstreams ?? [];
    if (!parts.outbound && next.outbound && upstreams.length > 0) {
      const outbound = Sidecar.outbound(parts, this.options, { upstreams: [], http2: next.outbound.http2 === true });
      let bound: AddressInfo;
      try {
        bound = await outbound.listen(next.outbound.host, next.outbound.port);
      } catch (err) {
        await outbound.close();
        throw err;
      }
      parts.outbound = outbound;
      this.outboundBound = bound;
      this.options.logger.info({ outbound: `${bound.address}:${bound.port}` }, 'outbound listener opened');
    }
    parts.breakers.configure(next.breaker ?? DEFAULT_BREAKER);
    parts.outbound?.setUpstreams(upstreams);
    parts.limits.setLimit(next.callerLimit);
    parts.inbound.setPolicies(next.policies);
    parts.tunnels.settings = next.tunnels ?? DEFAULT_TUNNEL_SETTINGS;
    this.options.logger.info(
      { policies: next.policies.length, upstreams: upstreams.length, callerLimit: next.callerLimit !== undefined },
      'sidecar configuration reloaded',
    );
  }

  /**
   * Inbound connection counters (admitted, resumed, refused), inbound request outcomes, outbound connection counters
   * and request outcomes, and the state of each upstream's breaker.
   */
  stats(): SidecarStats {
    const { listener, inbound, outbound, breakers, tunnels } = this.parts;
    return {
      inbound: { ...listener.stats },
      requests: { ...inbound.stats },
      outbound: outbound && { ...outbound.stats },
      outboundRequests: outbound && { ...outbound.requests },
      breakers: breakers.states(),
      tunnels: {
        inbound: { ...tunnels.stats.inbound, closed: { ...tunnels.stats.inbound.closed } },
        outbound: { ...tunnels.stats.outbound, closed: { ...tunnels.stats.outbound.closed } },
      },
    };
  }

  /** The Prometheus text exposition of {@link stats}, the SVID's time to expiry and the bundle sequence. */
  metricsText(): string {
    const svid = this.identity.current;
    let bundleSequence: number | undefined;
    try {
      bundleSequence = this.identity.bundle.sequence;
    } catch {
      bundleSequence = undefined; // no bundle yet
    }
    return sidecarMetricsText({
      stats: this.stats(),
      svidExpirySeconds: svid && Math.floor((svid.notAfter - this.options.clock.now()) / 1000),
      bundleSequence,
      durations: this.parts.access.durations,
    });
  }

  /**
   * Closes every WebSocket tunnel at once (long-lived, they would hold the drain for its whole grace), stops accepting
   * on both sides, lets the requests in flight finish for up to `drainMs` (10 s), then closes every connection, the
   * app's included, and returns: a hung app or peer does not hold the stop.
   */
  async stop(): Promise<void> {
    const { identity, outbound, listener, inbound, tunnels } = this.parts;
    const grace = this.options.drainMs ?? 10_000;
    tunnels.closeAll();
    identity.stop();
    await Promise.all([outbound?.close(grace), listener.close(grace)]);
    await inbound.close();
    this.parts.access.log?.flush();
  }
}
