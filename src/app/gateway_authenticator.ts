import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import type { Authenticator, GatewayConfig, GatewayPrincipal } from '../gateway/index.js';
import { IDENTITY_PATHS } from '../identity/index.js';
import { ApiKeyIntrospection } from './gateway_api_keys.js';
import type { IdentityServer } from './identity_server.js';
import {
  createVerifier,
  extractCredential,
  type Principal,
  type RevocationSubscribe,
  type Verifier,
  type VerifierOptions,
} from '../resource/index.js';

/** Verifies a presented API key (`ghk_…`) for the gateway; undefined when unknown, expired or revoked. */
export type ApiKeyVerifier = (key: string) => GatewayPrincipal | undefined;

/** API keys by RFC 7662 introspection at the issuer (a standalone gateway), as the gateway's confidential client. */
export interface ApiKeyIntrospectionSettings {
  clientId: string;
  clientSecret: string;
  /** How long an active key is reused (ms). */
  cacheTtlMs: number;
  /** How long a refused key is refused without asking (ms). */
  negativeTtlMs: number;
  maxEntries: number;
}

/**
 * API keys checked in process against the identity server's key index (no I/O: checksum, SHA-256, map lookup).
 * A key restricted to audiences must name `audience` (the gateway's `jwtAudience`).
 *
 * @example
 * const apiKeys = identityApiKeys(identityListener.identity, config.gateway.jwtAudience);
 */
export function identityApiKeys(identity: Pick<IdentityServer, 'apiKeys'>, audience: string): ApiKeyVerifier {
  return (presented) => {
    const key = identity.apiKeys.index.verify(presented);
    if (key === undefined) return undefined;
    if (key.audiences.length > 0 && !key.audiences.includes(audience)) return undefined;
    return {
      kind: 'api_key',
      sub: key.owner ?? key.id,
      clientId: key.owner ?? '',
      scopes: new Set(key.scopes),
      roles: [],
      apiKeyId: key.id,
    };
  };
}

/** The gateway's view of a verifier principal: the API key id comes from the `key_id` claim (or `jti`). */
export function toGatewayPrincipal(p: Principal): GatewayPrincipal {
  const out: GatewayPrincipal = { kind: p.kind, sub: p.sub, clientId: p.clientId, scopes: p.scopes, roles: p.roles };
  if (p.keyId !== undefined) out.keyId = p.keyId;
  if (p.kind === 'api_key') {
    const id = p.claims['key_id'] ?? p.claims['jti'];
    if (typeof id === 'string') out.apiKeyId = id;
  }
  return out;
}

/** Gateway principals of remembered verifier principals (the verifier's cache keeps those objects). */
const gatewayPrincipals = new WeakMap<Principal, GatewayPrincipal>();

/** A JWT route's principal: refuses an API key, and converts each remembered verifier principal once. */
function jwtPrincipal(p: Principal): GatewayPrincipal {
  if (p.kind !== 'jwt') throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'route expects a JWT' });
  let out = gatewayPrincipals.get(p);
  if (out === undefined) {
    out = toGatewayPrincipal(p);
    gatewayPrincipals.set(p, out);
  }
  return out;
}

/**
 * The gateway principal of a JWT route's request: a token verified before is answered at once, without a promise
 * (the verifier still re-checks revocation, key presence and feed staleness on every call); others are verified.
 *
 * @example
 * const authenticator = { authenticate: (headers) => verifiedJwt(verifier, headers) };
 */
export function verifiedJwt(
  verifier: Verifier,
  headers: IncomingHttpHeaders,
): GatewayPrincipal | Promise<GatewayPrincipal> {
  try {
    const cached = verifier.cachedPrincipal?.(headers);
    if (cached !== undefined) return jwtPrincipal(cached);
  } catch (err) {
    return Promise.reject(err); // failures are always rejections, as before
  }
  return verifier.verifyRequest(headers).then(jwtPrincipal);
}

/**
 * The verifier's revocation options for the gateway's JWT routes: `poll` (the default) needs a feed credential and
 * fails at start without one; `off` is an explicit opt-in, logged as insecure.
 */
function jwtRevocation(
  revocation: GatewayConfig['revocation'],
  feedCredential: (() => Promise<string>) | undefined,
  logger: Logger,
): VerifierOptions['revocation'] {
  if (revocation.mode === 'off') {
    logger.warn(
      { event: 'gateway_revocation_off', insecure: true },
      'INSECURE: gateway.revocation.mode is off, so revoked tokens pass the gateway until they expire; remove it to poll the revocation feed',
    );
    return { mode: 'off' };
  }
  if (revocation.maxStaleness <= revocation.interval) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'gateway.revocation.maxStaleness must be longer than gateway.revocation.interval',
    });
  }
  if (feedCredential === undefined) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message:
        'gateway routes with auth.kind jwt poll the revocation feed: set gateway.credentials.feedApiKey (an API key with scope revocations:read), or gateway.revocation.mode: off to accept revoked tokens until they expire',
    });
  }
  return {
    mode: 'poll',
    credentials: feedCredential,
    intervalMs: revocation.interval,
    maxStalenessMs: revocation.maxStaleness,
  };
}

/** Adds the push channel to the verifier's revocation options, unless revocation is off. */
function withPush(
  revocation: VerifierOptions['revocation'],
  push: RevocationSubscribe | undefined,
): VerifierOptions['revocation'] {
  return push === undefined || revocation.mode === 'off' ? revocation : { ...revocation, subscribe: push };
}

/** The running authenticator and what it owns. */
export interface AppAuthenticator extends Authenticator {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Wires the gateway's Authenticator port: JWT routes use the resource-server verifier (`createVerifier`) against the
 * platform's issuer and JWKS, created only when some route needs it; API-key routes use `apiKeys` when given (in
 * process), else introspection at the issuer with `apiKeyIntrospection` (cached both ways), and are refused (401)
 * otherwise, so a route never opens by accident.
 *
 * @example
 * const auth = appGatewayAuthenticator({ gateway: config.gateway, issuer, trustBundlePem, clock, logger });
 * await auth.start();
 */
export function appGatewayAuthenticator(o: {
  gateway: GatewayConfig;
  issuer: string | undefined;
  /** CA certificates the JWKS endpoint is verified against (default: system roots). */
  trustBundlePem?: string;
  apiKeys?: ApiKeyVerifier;
  /** Header API keys may come in besides `Authorization: Bearer ghk_…` (config `identity.apiKeys.header`). */
  apiKeyHeader?: string;
  /**
   * The bearer credential the verifier reads the issuer's revocation feed with (`gateway.revocation.mode: poll`):
   * an API key or access token with scope `revocations:read`, asked for on every poll.
   */
  feedCredential?: () => Promise<string>;
  /**
   * Revocations pushed to the verifier at once (the Redis revocation bus when `redis.url` is set, see
   * `revocationPush`), beside the feed, which stays the source of truth. Not used with `gateway.revocation.mode: off`.
   */
  revocationPush?: RevocationSubscribe;
  /** API keys by introspection, used when `apiKeys` is not given (the standalone gateway). */
  apiKeyIntrospection?: ApiKeyIntrospectionSettings;
  clock: Clock;
  logger: Logger;
}): AppAuthenticator {
  let verifier: Verifier | undefined;
  let introspected: ApiKeyIntrospection | undefined;
  const needsJwt = o.gateway.routes.some((r) => r.auth.kind === 'jwt');
  const needsApiKeys = o.gateway.routes.some((r) => r.auth.kind === 'api_key');
  const introspection = o.apiKeys === undefined && needsApiKeys ? o.apiKeyIntrospection : undefined;
  if (needsApiKeys && o.apiKeys === undefined && introspection === undefined) {
    o.logger.warn(
      { event: 'gateway_api_keys_unverifiable' },
      'API-key routes refuse every key: set gateway.credentials.clientId and clientSecret to introspect keys at the identity server',
    );
  }
  if (needsJwt || introspection !== undefined) {
    if (o.issuer === undefined) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message:
          'gateway routes with auth.kind jwt, and API keys by introspection, need identity.issuer (the identity server whose tokens and keys are accepted)',
      });
    }
    const base = o.issuer.replace(/\/+$/, '');
    const endpoint =
      introspection === undefined
        ? undefined
        : {
            url: `${base}${IDENTITY_PATHS.introspection}`,
            clientId: introspection.clientId,
            clientSecret: introspection.clientSecret,
          };
    verifier = createVerifier({
      issuer: o.issuer,
      audience: o.gateway.jwtAudience,
      jwks: {
        url: `${base}${IDENTITY_PATHS.jwks}`,
        ...(o.trustBundlePem === undefined ? {} : { ca: o.trustBundlePem }),
      },
      // Without JWT routes and a feed, API-key revocation is bounded by the key cache (introspect mode).
      revocation: withPush(
        needsJwt || o.feedCredential !== undefined || endpoint === undefined
          ? jwtRevocation(o.gateway.revocation, o.feedCredential, o.logger)
          : { mode: 'introspect', introspection: endpoint },
        o.revocationPush,
      ),
      ...(endpoint === undefined || introspection === undefined
        ? {}
        : {
            apiKeys: { introspect: endpoint, cacheTtlMs: introspection.cacheTtlMs },
            cache: { maxEntries: introspection.maxEntries },
          }),
      clock: o.clock,
      logger: o.logger,
    });
    if (introspection !== undefined) {
      const v = verifier;
      introspected = new ApiKeyIntrospection({
        introspect: async (key) => {
          const principal = await v.verifyToken(key);
          if (principal.kind !== 'api_key') throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'not an API key' });
          return toGatewayPrincipal(principal);
        },
        negativeTtlMs: introspection.negativeTtlMs,
        maxEntries: introspection.maxEntries,
        clock: o.clock,
      });
    }
  }
  const apiKeyPrincipal = async (headers: IncomingHttpHeaders): Promise<GatewayPrincipal> => {
    const credential = extractCredential(headers, o.apiKeyHeader ?? 'x-api-key'); // ERR_TOKEN_MISSING / _REQUEST_INVALID first
    if (credential.kind !== 'api_key')
      throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'route expects an API key' });
    let principal: GatewayPrincipal | undefined;
    if (o.apiKeys) principal = o.apiKeys(credential.value);
    else if (introspected) principal = await introspected.verify(credential.value);
    else throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'no API-key verifier is wired into this gateway' });
    if (principal === undefined)
      throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'unknown, expired or revoked API key' });
    return principal;
  };
  return {
    authenticate(headers, kind) {
      if (kind === 'api_key') return apiKeyPrincipal(headers);
      if (verifier === undefined) {
        return Promise.reject(new GatehouseError('ERR_TOKEN_INVALID', { detail: 'no JWT verifier configured' }));
      }
      return verifiedJwt(verifier, headers);
    },
    start: async () => {
      await verifier?.start();
    },
    close: async () => {
      await verifier?.close();
    },
  };
}
