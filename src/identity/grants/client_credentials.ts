import type { ApiCatalog } from '../apis/api_catalog.js';
import { oauthError } from '../oauth_error.js';
import type { SigningKeys } from '../signing_keys/signing_keys.js';
import { issueAccessTokenAsync } from '../tokens/access_token.js';
import type { IssuanceAudit } from '../tokens/issuance_audit.js';
import type { Grant, GrantContext, TokenResponse } from './grant.js';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Parses `scope` (RFC 6749 §3.3: space-delimited tokens); malformed lists are invalid_scope. */
export function parseScope(value: string): string[] {
  const parts = value.split(' ');
  if (parts.some((p) => !SCOPE_TOKEN.test(p))) throw oauthError('invalid_scope', 'malformed scope');
  return [...new Set(parts)];
}

const absoluteUris = new Map<string, boolean>();

/** Whether `resource` is an absolute URI without fragment; remembered for up to 1,024 strings (URL parsing is hot). */
function isAbsoluteUri(resource: string): boolean {
  const known = absoluteUris.get(resource);
  if (known !== undefined) return known;
  let absolute: boolean;
  try {
    absolute = !resource.includes('#') && new URL(resource).protocol.length > 1;
  } catch {
    absolute = false;
  }
  if (absoluteUris.size >= 1024) absoluteUris.clear();
  absoluteUris.set(resource, absolute);
  return absolute;
}

function audienceFor(context: GrantContext): string {
  const { client, resources } = context;
  if (resources.length > 1) throw oauthError('invalid_target', 'one resource per token request');
  const resource = resources[0];
  if (resource === undefined) {
    const fallback = client.audiences[0];
    if (fallback === undefined) throw oauthError('invalid_target', 'the client has no default audience');
    return fallback;
  }
  if (!isAbsoluteUri(resource)) throw oauthError('invalid_target', 'resource must be an absolute URI without fragment');
  if (!client.audiences.includes(resource)) throw oauthError('invalid_target', 'resource not allowed for this client');
  return resource;
}

/**
 * The Client Credentials grant (RFC 6749 §4.4): the client is the subject. Requested scopes must be a subset of the
 * client's and defined by the target API (invalid_scope); without `scope` the client gets all of its scopes that the
 * API defines. The audience is `resource` (RFC 8707) when given, checked against the client's audiences
 * (invalid_target), else the client's default audience. Issues an RFC 9068 JWT (certificate-bound when the request
 * came with a client certificate); no database write, audit is async.
 *
 * @example
 * const grant = clientCredentialsGrant({ apis, signingKeys, audit, defaultTtlMs: 900_000 });
 */
export function clientCredentialsGrant(deps: {
  apis: ApiCatalog;
  signingKeys: SigningKeys;
  audit: IssuanceAudit;
  defaultTtlMs: number;
}): Grant {
  return {
    grantType: 'client_credentials',
    parameters: ['scope', 'resource'],
    async handle(context: GrantContext): Promise<TokenResponse> {
      const { client, params, now } = context;
      const audience = audienceFor(context);
      const api = await deps.apis.get(audience);
      if (!api) throw oauthError('invalid_target', 'resource is not a registered API');
      const requested = params.get('scope');
      let scopes: string[];
      if (requested === undefined) {
        scopes = client.scopes.filter((s) => api.scopes.some((d) => d.name === s));
      } else {
        scopes = parseScope(requested);
        for (const scope of scopes) {
          if (!client.scopes.includes(scope) || !api.scopes.some((d) => d.name === scope)) {
            throw oauthError('invalid_scope', 'a requested scope is not granted to this client for this resource');
          }
        }
      }
      const scope = scopes.join(' ');
      const key = deps.signingKeys.signer();
      const issued = await issueAccessTokenAsync(
        {
          issuer: context.issuer,
          subject: client.clientId,
          audience,
          clientId: client.clientId,
          scope,
          roles: client.roles,
          ttlMs: client.accessTokenTtlMs ?? deps.defaultTtlMs,
          ...(context.confirmation === undefined ? {} : { confirmation: context.confirmation }),
        },
        key,
        now,
      );
      deps.audit.record({
        grantType: 'client_credentials',
        clientId: client.clientId,
        subject: client.clientId,
        audience,
        scope,
        jti: issued.jti,
        kid: issued.kid,
        expiresAt: issued.expiresAt,
        address: context.address,
      });
      return {
        access_token: issued.token,
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
        ...(scope === '' ? {} : { scope }),
      };
    },
  };
}
