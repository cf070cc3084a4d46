import { GatehouseError } from '../core/index.js';
import { createGatewayServer, type GatewayConfig, type GatewayMetrics } from '../gateway/index.js';
import type { PlatformCore } from './compose.js';
import { appGatewayAuthenticator, type ApiKeyVerifier } from './gateway_authenticator.js';
import { GatewayCapabilities } from './gateway_capabilities.js';
import { startDemoBackend, withDemoRoute } from './gateway_demo.js';
import { openGateway } from './gateway_instance.js';
import { revocationPush } from './revocation_fanout.js';
import { openUpGatewayMesh } from './gateway_mesh.js';
import type { IssuedListenerCert } from './listener_certificate.js';
import { listenerUrl, preparePlatformListener } from './platform_listener.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** The gateway inside `gatehouse up`. */
export interface GatewayListener {
  url: string;
  metrics: GatewayMetrics;
  /**
   * Swaps routes, limits and upstreams (the demo route is kept), first building what the section adds (the JWT
   * verifier, the gateway's SVID); rejects with ERR_CONFIG_INVALID and keeps the old ones.
   */
  reload(gateway: GatewayConfig): Promise<void>;
  /** The section in force (with the demo route): the start one, then the last reload that applied. */
  config(): GatewayConfig;
  renewCertificate(): Promise<IssuedListenerCert>;
  /**
   * Drops response-cache entries (all, one route's, and/or those under a path prefix); answers how many went.
   * Throws ERR_GATEWAY_ROUTE_UNKNOWN for a route the configuration in force lacks.
   */
  purgeCache(filter: { route?: string; pathPrefix?: string }): number;
  close(): Promise<void>;
}

/**
 * Starts the gateway listener of `gatehouse up` on `listen.host`:`listen.gateway.port` with a certificate from the
 * platform CA (renewed like the others), the demo backend on 127.0.0.1 and its `/demo/` route (its per-key limit on
 * the global tier when `redis.url` is set, see withDemoRoute), JWT routes verified
 * against the platform issuer (revocations read from its feed with `feedCredential` and, when `redis.url` is set,
 * pushed over the Redis revocation bus), and the global limiter tier on Redis when `redis.url` is set.
 *
 * @example
 * const gateway = await startGatewayListener({ core, ticketKeys, issuer, trustBundlePem });
 */
export async function startGatewayListener(o: {
  core: PlatformCore;
  ticketKeys: SessionTicketKeys;
  issuer: string;
  trustBundlePem: string;
  /** API keys for `api_key` routes (the identity server's index in `gatehouse up`). */
  apiKeys?: ApiKeyVerifier;
  /** The revocation-feed credential of JWT routes (an in-process feed token in `gatehouse up`). */
  feedCredential?: () => Promise<string>;
}): Promise<GatewayListener> {
  const { config, clock } = o.core;
  const logger = o.core.logger.child({ listener: 'gateway' });
  const cleanups: Array<() => Promise<void> | void> = [];
  const unwind = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const demo = await startDemoBackend();
    cleanups.push(() => demo.close());
    // With Redis the demo limit is global (shared by replicas), with a local burst limit in front of it.
    const section = (g: GatewayConfig) => withDemoRoute(g, demo.url, { redis: config.redis.url !== undefined });
    // With Redis, revocations made at any identity replica reach the verifier at once (the feed stays the truth).
    const push = revocationPush(config, logger);
    const authenticator = appGatewayAuthenticator({
      gateway: config.gateway,
      issuer: o.issuer,
      trustBundlePem: o.trustBundlePem,
      ...(o.apiKeys === undefined ? {} : { apiKeys: o.apiKeys }),
      ...(o.feedCredential === undefined ? {} : { feedCredential: o.feedCredential }),
      ...(push === undefined ? {} : { revocationPush: push }),
      apiKeyHeader: config.identity.apiKeys.header,
      clock,
      logger,
    });
    const capabilities = new GatewayCapabilities({
      authenticator,
      // Upstreams with mtls: the gateway's own SVID from the in-process CA (spiffe://<td>/ns/gatehouse/sa/gateway),
      // at start or at the reload that adds the first one.
      openMesh: () =>
        openUpGatewayMesh({
          authority: o.core.authority,
          records: o.core.records,
          clock,
          logger,
          renewAtFraction: config.pki.renewAtFraction,
        }),
      logger,
    });
    cleanups.push(() => capabilities.close());
    const mesh = await capabilities.start(config.gateway);
    let inForce = section(config.gateway);
    const gateway = openGateway({
      config,
      routes: inForce,
      authenticator,
      ...(mesh ? { mesh } : {}),
      clock,
      logger,
      cleanups,
    });
    const listener = await preparePlatformListener({
      core: o.core,
      component: 'gateway',
      logger,
      build: (issued) =>
        createGatewayServer({
          gateway,
          http: config.http,
          slowClients: config.gateway.slowClients,
          http2: config.gateway.http2,
          certPem: issued.certPem,
          keyPem: issued.keyPem,
          ticketKeys: o.ticketKeys,
          logger,
        }),
    });
    const bound = await listener.listen(config.listen.host, config.listen.gateway.port);
    cleanups.push(() => listener.close());
    return {
      url: listenerUrl(config.listen.host, bound.port),
      metrics: gateway.metrics,
      reload: async (g) => {
        const next = section(g);
        await capabilities.reload(gateway, next);
        inForce = next;
      },
      config: () => inForce,
      renewCertificate: () => listener.renewCertificate(),
      purgeCache: (filter) => {
        if (filter.route !== undefined && !inForce.routes.some((r) => r.name === filter.route)) {
          throw new GatehouseError('ERR_GATEWAY_ROUTE_UNKNOWN', { detail: `route ${filter.route}` });
        }
        return gateway.cache.purge(filter);
      },
      close: unwind,
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
