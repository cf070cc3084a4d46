import type { AddressInfo } from 'node:net';
import type { Clock, Logger } from '../core/index.js';
import type { RateLimit } from '../ratelimit/index.js';
import { IdentitySource } from './identity_source.js';
import { Inbound } from './inbound.js';
import { CallerLimits, UpstreamBreakers, type UpstreamBreakerOptions } from './limits.js';
import { MtlsListener, type ListenerStats, type MtlsMode } from './mtls_listener.js';
import { Outbound, type MeshUpstream } from './outbound.js';
import { PeerChecker } from './peer_check.js';
import type { AuthorizationPolicy } from './policy.js';
import type { CertificateAuthorityClient, SvidMaterial } from './ports.js';
import type { ConnectorStats } from './connector.js';

/** Everything a sidecar needs (config `sidecar` section, or the demo mesh of `gatehouse up`). */
export interface SidecarOptions {
  client: CertificateAuthorityClient;
  /** The bootstrap credential (join token). */
  credential: () => string | Promise<string>;
  trustDomain: string;
  clock: Clock;
  logger: Logger;
  mode: MtlsMode;
  policies: readonly AuthorizationPolicy[];
  inbound: { host: string; port: number; app: string };
  outbound?: { host: string; port: number; upstreams: readonly MeshUpstream[] };
  /** Per-caller burst limit on the inbound side (unset: none). */
  callerLimit?: RateLimit;
  breaker?: UpstreamBreakerOptions;
  renewAtFraction?: number;
  renewJitterFraction?: number;
  ticketKeyRotationMs?: number;
  /** Outbound: requests per connection before it is replaced (default unlimited). */
  maxRequestsPerConnection?: number;
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
  private constructor(
    readonly identity: IdentitySource,
    private readonly listener: MtlsListener,
    private readonly inbound: Inbound,
    private readonly outbound: Outbound | undefined,
    /** Where peers reach this sidecar (mTLS). */
    readonly inboundAddress: AddressInfo,
    /** Where the local app sends its plain HTTP calls (undefined without upstreams). */
    readonly outboundAddress: AddressInfo | undefined,
  ) {}

  static async start(options: SidecarOptions): Promise<Sidecar> {
    const { clock, logger } = options;
    const identity = new IdentitySource({
      client: options.client,
      credential: options.credential,
      clock,
      logger: logger.child({ component: 'identity' }),
      ...(options.renewAtFraction === undefined ? {} : { renewAtFraction: options.renewAtFraction }),
      ...(options.renewJitterFraction === undefined ? {} : { jitterFraction: options.renewJitterFraction }),
    });
    await identity.start();
    const checker = new PeerChecker({ trustDomain: options.trustDomain, clock, denyList: () => identity.denyList });
    const inbound = new Inbound({
      identity,
      policies: options.policies,
      limits: new CallerLimits({ clock, ...(options.callerLimit ? { limit: options.callerLimit } : {}) }),
      app: options.inbound.app,
      logger: logger.child({ side: 'inbound' }),
    });
    const listener = new MtlsListener({
      identity,
      checker,
      mode: options.mode,
      logger: logger.child({ side: 'inbound' }),
      handler: inbound.handler,
      ...(options.renewAtFraction === undefined ? {} : { renewAtFraction: options.renewAtFraction }),
      ...(options.ticketKeyRotationMs === undefined ? {} : { ticketKeyRotationMs: options.ticketKeyRotationMs }),
    });
    let outbound: Outbound | undefined;
    try {
      const inboundAddress = await listener.listen(options.inbound.host, options.inbound.port);
      let outboundAddress: AddressInfo | undefined;
      if (options.outbound) {
        outbound = new Outbound({
          identity,
          checker,
          upstreams: options.outbound.upstreams,
          breakers: new UpstreamBreakers({
            clock,
            ...(options.breaker ?? { consecutiveFailures: 5, openDurationMs: 10_000 }),
          }),
          logger: logger.child({ side: 'outbound' }),
          ...(options.maxRequestsPerConnection ? { maxRequestsPerConnection: options.maxRequestsPerConnection } : {}),
        });
        outboundAddress = await outbound.listen(options.outbound.host, options.outbound.port);
      }
      return new Sidecar(identity, listener, inbound, outbound, inboundAddress, outboundAddress);
    } catch (err) {
      identity.stop();
      await listener.close();
      await inbound.close();
      await outbound?.close();
      throw err;
    }
  }

  /** Renews the SVID now (the forced-renew hook). */
  renewNow(): Promise<SvidMaterial> {
    return this.identity.renewNow();
  }

  /** Inbound connection counters (admitted, resumed, refused) and outbound ones. */
  stats(): { inbound: ListenerStats; outbound: ConnectorStats | undefined } {
    return { inbound: { ...this.listener.stats }, outbound: this.outbound && { ...this.outbound.stats } };
  }

  async stop(): Promise<void> {
    this.identity.stop();
    await this.outbound?.close();
    await this.listener.close();
    await this.inbound.close();
  }
}
