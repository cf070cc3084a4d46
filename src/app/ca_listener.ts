import type { TLSSocket } from 'node:tls';
import { expiryWarningLog } from './ca_expiry_log.js';
import { writeFileAtomic, type Logger } from '../core/index.js';
import { CaThrottle, registerCaRoutes, type CaAdminOperations } from '../http/index.js';
import { Enrollment, JoinTokens, Revocations, type BootstrapTokenVerifier } from '../pki/index.js';
import type { LimiterStore } from '../ratelimit/index.js';
import { CaFollower } from './ca_follower.js';
import { openIdentityLimiter } from './identity_limiter.js';
import { caAdminOperations } from './ca_operations.js';
import type { PlatformCore } from './compose.js';
import type { IssuedListenerCert, OperatorCertificate } from './listener_certificate.js';
import { httpsServerBuilder, listenerUrl, preparePlatformListener } from './platform_listener.js';
import type { Scheduler } from './scheduler.js';
import type { SessionTicketKeys } from '../crypto/index.js';

/** The CA's listener, prepared (routes registered, certificate issued) and then started. */
export interface CaListener {
  enrollment: Enrollment;
  admin: CaAdminOperations;
  /** Binds `listen.host`:`listen.ca.port`, schedules rotation checks; returns the CA URL. */
  listen(scheduler: Scheduler): Promise<string>;
  renewCertificate(): Promise<IssuedListenerCert>;
  close(): Promise<void>;
}

/** What {@link prepareCaListener} takes. */
export interface CaListenerOptions {
  core: PlatformCore;
  /** Rewritten whenever the bundle changes (none: no file is kept). */
  trustBundleFile?: string | undefined;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  bootstrap?: BootstrapTokenVerifier;
  /** The operator's certificate and key (`--cert`/`--key`) instead of one from the platform CA. */
  certificate?: OperatorCertificate | undefined;
  /** Where `pki.limits` count (default: a store of the listener's own, closed with it). */
  limiter?: LimiterStore;
}

const ROTATION_CHECK_MS = 60_000;

/**
 * Prepares the CA API on its own TLS 1.3 listener (listener certificate `spiffe://<td>/gatehouse/ca`) with client
 * certificates requested and judged on every connection (chain to the trust bundle, SVID rules, deny list; refusals
 * logged with their reason). Whenever the bundle changes (CA rotation here or on another replica), trust-bundle.pem is
 * rewritten and the listener trusts the new bundle. `bootstrap` verifies access tokens (up.ts wires identity's).
 * Sign and renew are rate limited (`pki.limits`) in `limiter` (up.ts hands it the identity listener's store); without
 * one, the listener opens its own like identity's (on Redis when `redis.url` is set, so replicas share the counts).
 *
 * @example
 * const ca = await prepareCaListener({ core, trustBundleFile, ticketKeys, ready: () => ready });
 * const url = await ca.listen(scheduler);
 */
export async function prepareCaListener(options: CaListenerOptions): Promise<CaListener> {
  const { config, clock } = options.core;
  const logger = options.core.logger.child({ listener: 'ca' });
  if (options.limiter) return prepare(options, logger, options.limiter, undefined);
  const own = await openIdentityLimiter(config, clock, logger, { shared: true, for: 'ca' });
  try {
    return await prepare(options, logger, own.store, own);
  } catch (err) {
    await own.close();
    throw err;
  }
}

async function prepare(
  options: CaListenerOptions,
  logger: Logger,
  limiter: LimiterStore,
  own: { close(): Promise<void> } | undefined,
): Promise<CaListener> {
  const { core } = options;
  const { config, clock, authority } = core;
  const enrollment = new Enrollment({
    authority,
    joinTokens: new JoinTokens(core.records, clock),
    revocations: new Revocations(core.records, clock, authority.maxSvidTtlMs),
    ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}),
    ...(config.pki.allowedDnsNames ? { allowedDnsNames: config.pki.allowedDnsNames } : {}),
    clock,
    logger,
  });
  await enrollment.refreshDenyList(true);
  const listener = await preparePlatformListener({
    core,
    component: 'ca',
    logger,
    certificate: options.certificate,
    build: httpsServerBuilder({
      name: 'ca',
      http: config.http,
      requestStats: core.requestStats,
      ticketKeys: options.ticketKeys,
      logger,
      ready: options.ready,
      clientAuth: {
        ca: authority.trustBundlePem(),
        check: (socket: TLSSocket) => {
          const peer = socket.getPeerX509Certificate();
          if (!peer) return undefined;
          const refusal = enrollment.peerRefusal(peer.raw, socket.authorized, socket.authorizationError?.toString());
          return refusal ? { ...refusal } : undefined;
        },
      },
    }),
  });
  const { server } = listener;
  const refreshHintSeconds = Math.max(1, Math.floor(config.pki.bundleRefreshHint / 1000));
  registerCaRoutes(server.app, {
    enrollment,
    bundlePem: () => authority.trustBundlePem(),
    spiffeBundle: () => authority.spiffeBundle(refreshHintSeconds),
    throttle: new CaThrottle(limiter, config.pki.limits),
    logger,
  });
  let published = authority.trustBundlePem();
  const onBundleChange = async (): Promise<void> => {
    const pem = authority.trustBundlePem();
    if (pem === published) return;
    published = pem;
    if (options.trustBundleFile !== undefined) writeFileAtomic(options.trustBundleFile, pem, 0o644);
    server.setClientCa(pem);
    logger.warn(
      { bundleSequence: authority.bundleSequence, file: options.trustBundleFile },
      'trust bundle changed; the listener trusts the new one',
    );
  };
  const admin = caAdminOperations({ core, enrollment, refreshHintSeconds, onBundleChange, logger });
  // Every replica follows the stored CA (another one may have rotated it) and its deny list.
  const follower = new CaFollower({
    authority,
    clock,
    logger,
    afterRefresh: async () => {
      await onBundleChange();
      await enrollment.refreshDenyList();
    },
  });
  return {
    enrollment,
    admin,
    async listen(scheduler) {
      const bound = await listener.listen(config.listen.host, config.listen.ca.port);
      follower.start();
      const logExpiry = expiryWarningLog(logger, authority.status());
      scheduler.add({
        name: 'ca-rotation',
        everyMs: ROTATION_CHECK_MS,
        run: async () => {
          await authority.rotate();
          await onBundleChange();
          logExpiry(authority.status());
        },
      });
      return listenerUrl(config.listen.host, bound.port);
    },
    renewCertificate: () => listener.renewCertificate(),
    async close() {
      follower.stop();
      try {
        await listener.close();
      } finally {
        await own?.close();
      }
    },
  };
}
