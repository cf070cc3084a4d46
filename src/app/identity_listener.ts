import {
  registerIdentityDevicePages,
  registerIdentityPages,
  registerIdentityRevocationRoutes,
  registerIdentityRoutes,
  serveIdentityFormRoutes,
} from '../http/index.js';
import type { PlatformCore } from './compose.js';
import { openInProcessIdentity, signingKeyRefreshMs } from './identity_in_process.js';
import type { IdentityServer } from './identity_server.js';
import type { IssuedListenerCert, OperatorCertificate } from './listener_certificate.js';
import { httpsServerBuilder, listenerUrl, preparePlatformListener } from './platform_listener.js';
import type { Scheduler } from './scheduler.js';
import type { LimiterStore } from '../ratelimit/index.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** The identity issuer's listener, prepared (routes registered, certificate issued) and then started. */
export interface IdentityListener {
  identity: IdentityServer;
  /** The store its throttles count in (Redis when `redis.url` is set); `gatehouse up` counts the CA's limits there. */
  limiter: LimiterStore;
  /** Binds `listen.host`:`listen.identity.port` and schedules key maintenance; returns the issuer URL. */
  listen(scheduler: Scheduler): Promise<string>;
  /** Where the listener is bound (`https://host:port`), once listening; the issuer may be another name for it. */
  boundUrl(): string | undefined;
  renewCertificate(): Promise<IssuedListenerCert>;
  close(): Promise<void>;
}

/**
 * Prepares the identity issuer on its own TLS 1.3 listener with a certificate from the platform CA (renewed like the
 * admin one) or the operator's `certificate`. Once listening, signing keys are refreshed on every replica more often
 * than the pre-publication window, and rotated and purged by a lease-guarded scheduled job. The throttles count in
 * Redis when `redis.url` is set (shared by replicas), in memory otherwise.
 *
 * @example
 * const listener = await prepareIdentityListener({ core, ticketKeys, ready: () => ready });
 * const issuer = await listener.listen(scheduler);
 */
export async function prepareIdentityListener(options: {
  core: PlatformCore;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  /** The operator's certificate and key (`--cert`/`--key`) instead of one from the platform CA. */
  certificate?: OperatorCertificate | undefined;
}): Promise<IdentityListener> {
  const { core } = options;
  const { config } = core;
  const logger = core.logger.child({ listener: 'identity' });
  const opened = await openInProcessIdentity(core, logger, { sharedLimits: true });
  const { identity } = opened;
  const listener = await preparePlatformListener({
    core,
    component: 'identity',
    logger,
    certificate: options.certificate,
    build: httpsServerBuilder({
      name: 'identity',
      http: config.http,
      requestStats: core.requestStats,
      ticketKeys: options.ticketKeys,
      logger,
      ready: options.ready,
    }),
  }).catch(async (err: unknown) => {
    await opened.close();
    throw err;
  });
  const { server } = listener;
  registerIdentityRoutes(server.app, {
    token: identity.token,
    metadata: () => identity.metadata(),
    jwksJson: () => identity.signingKeys.jwksJson(),
    jwksMaxAgeSeconds: () => identity.signingKeys.jwksMaxAgeSeconds(),
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    corsOrigins: (origin) => identity.corsOrigins.allows(origin),
    userinfo: identity.userinfo,
  });
  registerIdentityRevocationRoutes(server.app, {
    introspection: identity.introspection,
    revocation: identity.revocation,
    feed: identity.revocationFeed,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
  });
  serveIdentityFormRoutes(server.app, {
    token: identity.token,
    introspection: identity.introspection,
    revocation: identity.revocation,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    hstsMaxAgeMs: config.http.hstsMaxAge,
  });
  registerIdentityPages(server.app, {
    flow: identity.people.flow,
    sessions: identity.people.sessions,
    apps: identity.people.apps,
    apis: identity.apis,
    clients: identity.clients.cache,
    logger,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    endSession: identity.endSession,
  });
  registerIdentityDevicePages(server.app, {
    ...identity.people.device,
    flow: identity.people.flow,
    sessions: identity.people.sessions,
    logger,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
  });
  let bound: string | undefined;
  return {
    identity,
    limiter: opened.limiter,
    async listen(scheduler) {
      const { port } = await listener.listen(config.listen.host, config.listen.identity.port);
      bound = listenerUrl(config.listen.host, port);
      identity.setBoundPort(port);
      scheduler.add({
        name: 'identity-signing-keys',
        everyMs: signingKeyRefreshMs(config),
        run: async () => {
          await identity.signingKeys.maintain();
        },
      });
      return identity.issuer();
    },
    boundUrl: () => bound,
    renewCertificate: () => listener.renewCertificate(),
    async close() {
      await listener.close();
      await opened.close();
    },
  };
}
