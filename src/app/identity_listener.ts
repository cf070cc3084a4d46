import {
  createHttpsServer,
  registerIdentityDevicePages,
  registerIdentityPages,
  registerIdentityRevocationRoutes,
  registerIdentityRoutes,
} from '../http/index.js';
import { MemoryLimiterStore } from '../ratelimit/index.js';
import type { PlatformCore } from './compose.js';
import { openIdentity, type IdentityServer } from './identity_server.js';
import type { IssuedListenerCert } from './listener_certificate.js';
import { preparePlatformListener } from './platform_listener.js';
import { openRevocationFanout } from './revocation_fanout.js';
import type { Scheduler } from './scheduler.js';

/** The identity issuer's listener, prepared (routes registered, certificate issued) and then started. */
export interface IdentityListener {
  identity: IdentityServer;
  /** Binds `listen.host`:`listen.identity.port` and schedules key maintenance; returns the issuer URL. */
  listen(scheduler: Scheduler): Promise<string>;
  renewCertificate(): Promise<IssuedListenerCert>;
  close(): Promise<void>;
}

/**
 * Prepares the identity issuer on its own TLS 1.3 listener with a certificate from the platform CA (renewed like the
 * admin one). Once listening, signing keys are refreshed on every replica more often than the pre-publication window,
 * and rotated and purged by a lease-guarded scheduled job.
 *
 * @example
 * const listener = await prepareIdentityListener({ core, ticketKeys, ready: () => ready });
 * const issuer = await listener.listen(scheduler);
 */
export async function prepareIdentityListener(options: {
  core: PlatformCore;
  ticketKeys: Buffer;
  ready: () => boolean;
}): Promise<IdentityListener> {
  const { core } = options;
  const { config, clock } = core;
  const logger = core.logger.child({ listener: 'identity' });
  const limiter = new MemoryLimiterStore({ clock, maxKeys: config.ratelimit.memory.maxKeys });
  const fanout = openRevocationFanout(config, logger);
  const identity = await openIdentity({
    config,
    records: core.records,
    vault: core.keyring,
    limiter,
    clock,
    logger,
    ...(fanout ? { revocationBus: fanout.bus } : {}),
  });
  const listener = await preparePlatformListener({
    core,
    component: 'identity',
    logger,
    build: (issued) =>
      createHttpsServer({
        name: 'identity',
        http: config.http,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
        ticketKeys: options.ticketKeys,
        logger,
        ready: options.ready,
      }),
  });
  const { server } = listener;
  registerIdentityRoutes(server.app, {
    token: identity.token,
    metadata: () => identity.metadata(),
    jwksJson: () => identity.signingKeys.jwksJson(),
    jwksMaxAgeSeconds: () => identity.signingKeys.jwksMaxAgeSeconds(),
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    rawTokenRoute: { hstsMaxAgeMs: config.http.hstsMaxAge },
    corsOrigins: (origin) => identity.corsOrigins.allows(origin),
    userinfo: identity.userinfo,
  });
  registerIdentityRevocationRoutes(server.app, {
    introspection: identity.introspection,
    revocation: identity.revocation,
    feed: identity.revocationFeed,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
  });
  registerIdentityPages(server.app, {
    flow: identity.people.flow,
    sessions: identity.people.sessions,
    consents: identity.people.consents,
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
  let refresher: NodeJS.Timeout | undefined;
  return {
    identity,
    async listen(scheduler) {
      const bound = await listener.listen(config.listen.host, config.listen.identity.port);
      identity.setBoundPort(bound.port);
      const refreshEvery = Math.max(1000, Math.min(60_000, Math.floor(config.identity.signing.prePublish / 4)));
      refresher = setInterval(() => {
        identity.signingKeys.refresh().catch((err: unknown) => {
          logger.error({ err: (err as Error).message }, 'signing key refresh failed');
        });
      }, refreshEvery);
      refresher.unref();
      scheduler.add({
        name: 'identity-signing-keys',
        everyMs: refreshEvery,
        run: async () => {
          await identity.signingKeys.maintain();
        },
      });
      return identity.issuer();
    },
    renewCertificate: () => listener.renewCertificate(),
    async close() {
      if (refresher) clearInterval(refresher);
      await listener.close();
      identity.close();
      await fanout?.close();
      await limiter.close();
    },
  };
}
