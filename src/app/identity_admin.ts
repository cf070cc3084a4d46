import type { Logger } from '../core/index.js';
import type { AdminCall, IdentityAdminOperations } from '../http/index.js';
import { clientView, type ClientAuthMethod } from '../identity/index.js';
import { snakeCase } from './admin_operations.js';
import type { IdentityServer } from './identity_server.js';

/**
 * The identity admin operations on this process's identity server, audited like every admin operation. Client secrets
 * appear only in the answers of create and rotate-secret, never in logs.
 *
 * @example
 * registerIdentityAdminRoutes(admin.app, checkAdmin, identityAdminOperations(identity, logger));
 */
export function identityAdminOperations(identity: IdentityServer, logger: Logger): IdentityAdminOperations {
  const audit = logger.child({ audit: true });
  const done = <T>(call: AdminCall, operation: string, fields: object, value: T): unknown => {
    audit.info({ actor: call.actor, operation, ...fields, result: 'ok' }, 'admin operation');
    return snakeCase(value);
  };
  const { apis, clients, signingKeys } = identity;
  const keyView = () =>
    signingKeys.list().map((k) => ({
      kid: k.kid,
      alg: k.alg,
      createdAt: new Date(k.createdAt),
      activatesAt: new Date(k.activatesAt),
      retiresAt: k.retiresAt === null ? null : new Date(k.retiresAt),
    }));
  return {
    createApi: async (call, audience, scopes) =>
      done(call, 'identity.api.create', { audience }, await apis.create(audience, scopes)),
    listApis: async () => snakeCase(await apis.list()),
    getApi: async (audience) => snakeCase(await apis.require(audience)),
    deleteApi: async (call, audience) => {
      await apis.delete(audience);
      return done(call, 'identity.api.delete', { audience }, { deleted: true, audience });
    },
    createClient: async (call, body) => {
      const { client, secret } = await clients.create({
        name: body.name,
        grantTypes: body.grant_types,
        scopes: body.scope === undefined ? [] : body.scope.split(' ').filter((s) => s !== ''),
        ...(body.redirect_uris ? { redirectUris: body.redirect_uris } : {}),
        ...(body.public === undefined ? {} : { public: body.public }),
        ...(body.audiences ? { audiences: body.audiences } : {}),
        ...(body.auth_method ? { authMethod: body.auth_method as ClientAuthMethod } : {}),
        ...(body.jwks ? { jwks: body.jwks as { keys: Array<Record<string, unknown> & { kty: string }> } } : {}),
        ...(body.accessTokenTtlMs === undefined ? {} : { accessTokenTtlMs: body.accessTokenTtlMs }),
        ...(body.legacy_implicit === undefined ? {} : { legacyImplicit: body.legacy_implicit }),
        ...(body.tls_client_auth_san_uri ? { tlsClientAuthSanUri: body.tls_client_auth_san_uri } : {}),
        ...(body.roles ? { roles: body.roles } : {}),
        ...(body.allowed_origins ? { allowedOrigins: body.allowed_origins } : {}),
        ...(body.id_token_signed_response_alg
          ? { idTokenSignedResponseAlg: body.id_token_signed_response_alg as 'RS256' | 'ES256' }
          : {}),
        ...(body.post_logout_redirect_uris ? { postLogoutRedirectUris: body.post_logout_redirect_uris } : {}),
        ...(body.spiffe_ids ? { spiffeIds: body.spiffe_ids } : {}),
      });
      audit.info(
        { actor: call.actor, operation: 'identity.client.create', clientId: client.clientId, result: 'ok' },
        'admin operation',
      );
      return {
        client_id: client.clientId,
        ...(secret === undefined ? {} : { client_secret: secret }),
        client: snakeCase(clientView(client)),
      };
    },
    listClients: async () => snakeCase((await clients.list()).map(clientView)),
    getClient: async (clientId) => snakeCase(clientView(await clients.get(clientId))),
    rotateClientSecret: async (call, clientId, overlapMs) => {
      const { client, secret } = await clients.rotateSecret(clientId, overlapMs);
      audit.info(
        { actor: call.actor, operation: 'identity.client.rotate-secret', clientId, result: 'ok' },
        'admin operation',
      );
      return { client_id: client.clientId, client_secret: secret, client: snakeCase(clientView(client)) };
    },
    deleteClient: async (call, clientId) => {
      await clients.delete(clientId);
      return done(call, 'identity.client.delete', { clientId }, { deleted: true, clientId });
    },
    rotateSigningKeys: async (call) => {
      const next = await signingKeys.rotate();
      return done(
        call,
        'identity.signing-keys.rotate',
        { kid: next.kid },
        {
          kid: next.kid,
          alg: next.alg,
          activatesAt: new Date(next.activatesAt),
          keys: keyView(),
        },
      );
    },
    listSigningKeys: async () => snakeCase(keyView()),
  };
}
