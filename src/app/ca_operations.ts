import { formatDuration, GatehouseError, type Logger } from '../core/index.js';
import type { CaAdminOperations } from '../http/index.js';
import type { Enrollment } from '../pki/index.js';
import type { PlatformCore } from './compose.js';
import { snakeCase } from './admin_operations.js';

/**
 * The CA's admin operations (admin listener): join tokens (shown once, never logged), revocation, rotation (prepare
 * and publish now; activation and retirement follow on schedule) and the bundle. Each is audit-logged.
 *
 * @example
 * registerCaAdminRoutes(admin.app, check, caAdminOperations({ core, enrollment, refreshHintSeconds: 300, ... }));
 */
export function caAdminOperations(options: {
  core: PlatformCore;
  enrollment: Enrollment;
  refreshHintSeconds: number;
  onBundleChange: () => Promise<void>;
  logger: Logger;
}): CaAdminOperations {
  const { core, enrollment } = options;
  const { authority, config } = core;
  const audit = core.logger.child({ audit: true });
  return {
    async createJoinToken(call, spiffeId, ttlMs) {
      const ttl = ttlMs ?? config.pki.joinTokenTtl;
      if (ttl > config.pki.maxJoinTokenTtl) {
        throw new GatehouseError('ERR_HTTP_BAD_REQUEST', {
          message: `a join token lives at most ${formatDuration(config.pki.maxJoinTokenTtl)} (pki.maxJoinTokenTtl)`,
        });
      }
      const created = await enrollment.createJoinToken(spiffeId, ttl);
      const id = created.spiffeId;
      audit.info({ actor: call.actor, operation: 'ca.join-token', spiffeId: id, result: 'ok' }, 'admin operation');
      return { token: created.token, spiffe_id: id, expires_at: new Date(created.expiresAt).toISOString() };
    },
    async revoke(call, spiffeId) {
      const entry = await enrollment.revoke(spiffeId);
      audit.info(
        { actor: call.actor, operation: 'ca.revoke', spiffeId: entry.spiffeId, result: 'ok' },
        'admin operation',
      );
      return snakeCase({
        spiffeId: entry.spiffeId,
        revokedAt: new Date(entry.revokedAt),
        expiresAt: new Date(entry.expiresAt),
      });
    },
    async rotate(call) {
      const result = await authority.rotate(true);
      await options.onBundleChange();
      audit.info({ actor: call.actor, operation: 'ca.rotate', steps: result.steps, result: 'ok' }, 'admin operation');
      const status = authority.status();
      return snakeCase({ steps: result.steps, bundleSequence: result.bundleSequence, next: status.next ?? null });
    },
    async bundle() {
      return { pem: authority.trustBundlePem(), spiffe: authority.spiffeBundle(options.refreshHintSeconds) };
    },
  };
}
