import Fastify, { type FastifyInstance } from 'fastify';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { openIdentity, type IdentityServer } from '../../src/app/identity_server.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { MemoryLogger, type ManualClock, type RecordStore } from '../../src/core/index.js';
import {
  registerIdentityRevocationRoutes,
  registerIdentityRoutes,
  type IdentityRoutesOptions,
} from '../../src/http/index.js';
import type { RevocationBus, SealedSecrets } from '../../src/identity/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';

/** The identity capability opened by {@link openMemoryIdentity}. */
export interface MemoryIdentity {
  config: Config;
  store: RecordStore;
  logger: MemoryLogger;
  identity: IdentityServer;
  /** An un-listened fastify with the token routes (and the revocation routes when asked); not ready yet. */
  app: FastifyInstance;
  /** Closes the app, the identity server, the limiter and the store (unless the caller gave it). */
  close(): Promise<void>;
}

/**
 * Opens the identity capability on `clock`, a memory store (unless `store`), a memory limiter and a MemoryLogger, with
 * the config's `identity` section set to `identity`, and registers its token routes (`routes` gives the optional ones)
 * on a new fastify (HTTPS with `tls`), and with `revocationRoutes` introspection, revocation and the feed. The caller
 * registers what else it needs and calls `app.ready()`.
 *
 * @example
 * const { identity, app, close } = await openMemoryIdentity({ identity: { issuer: ISSUER }, clock, vault });
 * await app.ready();
 */
export async function openMemoryIdentity(options: {
  identity: Record<string, unknown>;
  clock: ManualClock;
  vault: SealedSecrets;
  store?: RecordStore;
  revocationBus?: RevocationBus;
  tls?: { cert: string; key: string };
  routes?: (identity: IdentityServer) => Pick<IdentityRoutesOptions, 'userinfo' | 'corsOrigins'>;
  revocationRoutes?: boolean;
}): Promise<MemoryIdentity> {
  const { clock } = options;
  const config = loadConfig({ overrides: { identity: options.identity } });
  const store = options.store ?? new MemoryRecordStore({ clock });
  const logger = new MemoryLogger();
  const limiter = new MemoryLimiterStore({ clock, maxKeys: 10_000 });
  const identity = await openIdentity({
    config,
    records: store,
    vault: options.vault,
    limiter,
    clock,
    logger,
    ...(options.revocationBus ? { revocationBus: options.revocationBus } : {}),
  });
  const app = (
    options.tls
      ? Fastify({ logger: false, https: { cert: options.tls.cert, key: options.tls.key } })
      : Fastify({ logger: false })
  ) as FastifyInstance;
  registerIdentityRoutes(app, {
    token: identity.token,
    metadata: () => identity.metadata(),
    jwksJson: () => identity.signingKeys.jwksJson(),
    jwksMaxAgeSeconds: () => identity.signingKeys.jwksMaxAgeSeconds(),
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    ...options.routes?.(identity),
  });
  if (options.revocationRoutes) {
    registerIdentityRevocationRoutes(app, {
      introspection: identity.introspection,
      revocation: identity.revocation,
      feed: identity.revocationFeed,
      maxBodyBytes: config.identity.limits.maxBodyBytes,
    });
  }
  return {
    config,
    store,
    logger,
    identity,
    app,
    async close() {
      await app.close();
      identity.close();
      await limiter.close();
      if (!options.store) await store.close();
    },
  };
}
