import type { Config } from '../config/index.js';
import { FailureStreak, type Logger } from '../core/index.js';
import type { LimiterStore } from '../ratelimit/index.js';
import type { PlatformCore } from './compose.js';
import { openIdentityLimiter } from './identity_limiter.js';
import { openIdentity, type IdentityServer } from './identity_server.js';
import { openRevocationFanout } from './revocation_fanout.js';

/** The identity capability opened in this process, and how to close what it holds. */
export interface InProcessIdentity {
  identity: IdentityServer;
  /** The limiter store of the identity throttles (shared with the CA listener of `gatehouse up`). */
  limiter: LimiterStore;
  close(): Promise<void>;
}

/**
 * How often every replica re-reads the signing keys: more often than the pre-publication window (a quarter of it),
 * between 1 s and 1 min.
 *
 * @example
 * setInterval(refresh, signingKeyRefreshMs(config));
 */
export function signingKeyRefreshMs(config: Config): number {
  return Math.max(1000, Math.min(60_000, Math.floor(config.identity.signing.prePublish / 4)));
}

/**
 * Opens the identity capability on the core's store and keyring: the revocation fan-out when `redis.url` is set,
 * the limiter store (`sharedLimits`: on Redis when configured, see openIdentityLimiter; otherwise in memory, for a
 * process that only verifies), and timers that re-read signing keys and API keys written by other replicas. The identity
 * listener serves it; the KMS and CA started alone use it to verify our access tokens and API keys in process.
 *
 * @example
 * const { identity, close } = await openInProcessIdentity(core, logger, { sharedLimits: false });
 */
export async function openInProcessIdentity(
  core: PlatformCore,
  logger: Logger,
  options: { sharedLimits: boolean },
): Promise<InProcessIdentity> {
  const { config, clock } = core;
  const limiter = await openIdentityLimiter(config, clock, logger, { shared: options.sharedLimits });
  // With Redis down the limiter has waited for it already: the revocation subscription does not wait again.
  const fanout = openRevocationFanout(config, logger, { redisDown: limiter.redisDown });
  const release = async () => {
    await fanout?.close();
    await limiter.close();
  };
  let identity: IdentityServer;
  try {
    identity = await openIdentity({
      config,
      records: core.records,
      vault: core.keyring,
      limiter: limiter.store,
      clock,
      logger,
      ...(fanout ? { revocationBus: fanout.bus } : {}),
    });
  } catch (err) {
    await release();
    throw err;
  }
  const signingStreak = new FailureStreak({ loop: 'signing key refresh', clock, logger, level: 'error' });
  const refresher = setInterval(
    () => void signingStreak.run(() => identity.signingKeys.refresh()),
    signingKeyRefreshMs(config),
  );
  refresher.unref();
  // API keys created on other replicas: re-read on a timer, not only when a request finds the index stale (that
  // request was refused, however long ago the key was made).
  const apiKeyRefresher = setInterval(
    () => void identity.apiKeys.index.refresh(),
    config.identity.apiKeys.refreshEvery,
  );
  apiKeyRefresher.unref();
  return {
    identity,
    limiter: limiter.store,
    async close() {
      clearInterval(refresher);
      clearInterval(apiKeyRefresher);
      identity.close();
      await release();
    },
  };
}
