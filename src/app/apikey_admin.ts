import type { Logger } from '../core/index.js';
import type { ApiKeyAdminOperations } from '../http/index.js';
import { apiKeyView, type ApiKey } from '../identity/index.js';
import { snakeCase } from './admin_operations.js';
import type { IdentityServer } from './identity_server.js';

/**
 * The API key admin operations on this process's identity server. Every change is audited (`api_key.created`,
 * `api_key.rotated`, `api_key.revoked`) by key id and name, with the `actor` who made it; the key itself appears only
 * in the answers of create and rotate, never in a log line.
 *
 * @example
 * registerApiKeyAdminRoutes(admin.app, checkAdmin, apiKeyAdminOperations(identity, logger));
 */
export function apiKeyAdminOperations(identity: IdentityServer, logger: Logger): ApiKeyAdminOperations {
  const audit = logger.child({ audit: true, component: 'api-keys' });
  const { apiKeys } = identity;
  const view = async (key: ApiKey) => snakeCase(apiKeyView(key, await apiKeys.lastUsed.get(key.id)));
  return {
    async create(call, request) {
      const { key, apiKey } = await apiKeys.create(request);
      audit.info(
        {
          event: 'api_key.created',
          actor: call.actor,
          keyId: apiKey.id,
          name: apiKey.name,
          scopes: apiKey.scopes.join(' '),
        },
        'API key created',
      );
      return { id: apiKey.id, key, api_key: await view(apiKey) };
    },
    list: async () => Promise.all((await apiKeys.list()).map(view)),
    get: async (id) => view(await apiKeys.require(id)),
    async revoke(call, id) {
      const revoked = await apiKeys.revoke(id);
      audit.info({ event: 'api_key.revoked', actor: call.actor, keyId: id, name: revoked.name }, 'API key revoked');
      return view(revoked);
    },
    async rotate(call, id, overlapMs) {
      const { key, apiKey } = await apiKeys.rotate(id, overlapMs);
      audit.info(
        { event: 'api_key.rotated', actor: call.actor, keyId: id, name: apiKey.name, overlapMs },
        'API key rotated',
      );
      return { id: apiKey.id, key, api_key: await view(apiKey) };
    },
  };
}
