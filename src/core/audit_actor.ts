import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.js';

/** Who the current request is: set once its credential is admitted, read by the audit lines written for it. */
const requestScope = new AsyncLocalStorage<{ actor?: string }>();

/**
 * Runs `next` (the rest of a request) in a scope of its own, where {@link setAuditActor} records who is calling. An
 * HTTP listener calls it first for every request (a fastify `onRequest` hook with `done` as `next`).
 *
 * @example
 * app.addHook('onRequest', (_request, _reply, done) => inAuditScope(done));
 */
export function inAuditScope(next: () => void): void {
  requestScope.run({}, next);
}

/**
 * Records the principal admitted for the current request (`admin` for the admin token, `api_key:<id>`, `client:<client_id>`).
 *
 * @example
 * setAuditActor('api_key:ak_123');
 */
export function setAuditActor(actor: string): void {
  const store = requestScope.getStore();
  if (store !== undefined) store.actor = actor;
}

/** The principal admitted for the current request, if one was recorded. */
export function currentAuditActor(): string | undefined {
  return requestScope.getStore()?.actor;
}

/**
 * An audit logger whose every line names the admitted caller as `actor` (the request's, else `fallback`): one
 * logger for operations that any admitted principal may call (the admin token, an API key or access token with the
 * `admin` scope).
 *
 * @example
 * const audit = auditLogger(logger.child({ audit: true }));
 * audit.info({ operation: 'kms.key.rotate', key_name: 'orders' }, 'admin operation'); // actor: 'api_key:ak_1'
 */
export function auditLogger(logger: Logger, fallback = 'admin'): Logger {
  const actor = () => ({ actor: currentAuditActor() ?? fallback });
  return {
    debug: (obj, msg) => logger.debug({ ...actor(), ...obj }, msg),
    info: (obj, msg) => logger.info({ ...actor(), ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...actor(), ...obj }, msg),
    error: (obj, msg) => logger.error({ ...actor(), ...obj }, msg),
    child: (bindings) => auditLogger(logger.child(bindings), fallback),
  };
}
