// The identity issuer in memory, opened as `gatehouse up` opens it, for the bench servers and suites.
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { openIdentity } from '../../dist/app/identity_server.js';
import { loadConfig } from '../../dist/config/index.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { registerIdentityRoutes } from '../../dist/http/index.js';
import { MemoryLimiterStore } from '../../dist/ratelimit/index.js';

/**
 * openIdentity with the config's `identity` section set to `identity`, on a memory record store, secrets in a Map, a
 * memory limiter of `maxKeys` keys (the configured default when not given), the system clock and a silent logger.
 *
 * @example
 * const { config, identity, close } = await openMemoryIdentity({ issuer: 'https://127.0.0.1' }, 10_000);
 */
export async function openMemoryIdentity(identityOverrides, maxKeys) {
  const vault = new Map();
  const secrets = {
    putSecret: async (name, value) => void vault.set(name, Buffer.from(value)),
    getSecret: async (name) => vault.get(name),
    deleteSecret: async (name) => void vault.delete(name),
  };
  const config = loadConfig({ overrides: { identity: identityOverrides } });
  const clock = systemClock;
  const records = new MemoryRecordStore({ clock });
  const limiter = new MemoryLimiterStore({ clock, maxKeys: maxKeys ?? config.ratelimit.memory.maxKeys });
  const identity = await openIdentity({ config, records, vault: secrets, limiter, clock, logger: silentLogger });
  const close = async () => {
    identity.close();
    await limiter.close();
  };
  return { config, identity, close };
}

/**
 * The identity issuer's public routes (metadata, JWKS, token endpoint) on `app`, with `extra` (corsOrigins, userinfo).
 *
 * @example
 * registerTokenRoutes(server.app, identity, config);
 */
export function registerTokenRoutes(app, identity, config, extra = {}) {
  registerIdentityRoutes(app, {
    token: identity.token,
    metadata: () => identity.metadata(),
    jwksJson: () => identity.signingKeys.jwksJson(),
    jwksMaxAgeSeconds: () => identity.signingKeys.jwksMaxAgeSeconds(),
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    ...extra,
  });
}
