import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError, isGatehouseError, type Clock, type Logger } from '../core/index.js';
import type { Authenticator, GatewayConfig, GatewayPrincipal } from '../gateway/index.js';
import type { IdentityServer } from './identity_server.js';
import { gatewayNeeds } from './gateway_needs.js';
import {
  buildGatewayVerifier,
  toGatewayPrincipal,
  verifierCovers,
  type ApiKeyIntrospectionSettings,
  type GatewayCredentials,
  type GatewayVerifier,
  type GatewayVerifierInputs,
  type VerifierIssuer,
} from './gateway_verifier.js';
import { extractCredential, type Principal, type RevocationSubscribe, type Verifier } from '../resource/index.js';

export { toGatewayPrincipal } from './gateway_verifier.js';
export type { ApiKeyIntrospectionSettings, GatewayCredentials, VerifierIssuer } from './gateway_verifier.js';

/** Verifies a presented API key (`ghk_…`) for the gateway; undefined when unknown, expired or revoked. */
export type ApiKeyVerifier = (key: string) => GatewayPrincipal | undefined;

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

/** `inputs` with another issuer and CA bundle. */
function withIssuer(inputs: GatewayVerifierInputs, issuer: VerifierIssuer): GatewayVerifierInputs {
  const { issuer: _issuer, trustBundlePem: _bundle, ...rest } = inputs;
  return { ...rest, ...issuer };
}

/** A verifier built and started for a reload, not serving yet. */
export interface PreparedVerifier {
  /** Serves the new verifier from now on and closes the one it replaces (requests already in it finish). */
  commit(): Promise<void>;
  /** Closes the new verifier: the reload was refused. */
  abandon(): Promise<void>;
}

/** The running authenticator and what it owns. */
export interface AppAuthenticator extends Authenticator {
  start(): Promise<void>;
  /**
   * For a reload: builds and starts (JWKS fetched, feed read, push subscribed) the verifier `section` needs when the
   * running one does not serve it (the first JWT route, the first API-key route verified by introspection);
   * undefined when nothing is missing. `issuer` (a standalone gateway's reloaded `identity.issuer` and `--issuer-ca`)
   * replaces the running one for this build, and from its commit on. Throws ERR_CONFIG_INVALID, changing nothing, when
   * it cannot be built or started.
   */
  prepare(section: GatewayConfig, issuer?: VerifierIssuer): Promise<PreparedVerifier | undefined>;
  /** Closes the verifier serving now (and with it what the last reload built). */
  close(): Promise<void>;
}

/**
 * Wires the gateway's Authenticator port: JWT routes use the resource-server verifier (`createVerifier`) against the
 * platform's issuer and JWKS, created only when some route needs it (at start, or by `prepare` at the reload that
 * adds the first one); API-key routes use `apiKeys` when given (in process), else introspection at the issuer with
 * `apiKeyIntrospection` (cached both ways), and are refused (401) otherwise, so a route never opens by accident.
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
  /**
   * The credentials of a section, read when a verifier is built for it (a standalone gateway reads them from the
   * section); default `feedCredential` and `apiKeyIntrospection` for every section.
   */
  credentials?: (section: GatewayConfig) => GatewayCredentials;
  clock: Clock;
  logger: Logger;
}): AppAuthenticator {
  let inputs: GatewayVerifierInputs = {
    issuer: o.issuer,
    ...(o.trustBundlePem === undefined ? {} : { trustBundlePem: o.trustBundlePem }),
    inProcessApiKeys: o.apiKeys !== undefined,
    ...(o.revocationPush === undefined ? {} : { revocationPush: o.revocationPush }),
    clock: o.clock,
    logger: o.logger,
  };
  const credentialsOf = (section: GatewayConfig): GatewayCredentials => {
    const given = o.credentials?.(section) ?? {
      ...(o.feedCredential === undefined ? {} : { feedCredential: o.feedCredential }),
      ...(o.apiKeyIntrospection === undefined ? {} : { apiKeyIntrospection: o.apiKeyIntrospection }),
    };
    if (gatewayNeeds(section).apiKeys && o.apiKeys === undefined && given.apiKeyIntrospection === undefined) {
      o.logger.warn(
        { event: 'gateway_api_keys_unverifiable' },
        'API-key routes refuse every key: set gateway.credentials.clientId and clientSecret to introspect keys at the identity server',
      );
    }
    return given;
  };
  let current = buildGatewayVerifier(o.gateway, inputs, credentialsOf(o.gateway));
  const apiKeyPrincipal = async (headers: IncomingHttpHeaders): Promise<GatewayPrincipal> => {
    const credential = extractCredential(headers, o.apiKeyHeader ?? 'x-api-key'); // ERR_TOKEN_MISSING / _REQUEST_INVALID first
    if (credential.kind !== 'api_key')
      throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'route expects an API key' });
    let principal: GatewayPrincipal | undefined;
    const introspected = current?.introspected;
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
      if (current === undefined) {
        return Promise.reject(new GatehouseError('ERR_TOKEN_INVALID', { detail: 'no JWT verifier configured' }));
      }
      return verifiedJwt(current.verifier, headers);
    },
    start: async () => {
      await current?.verifier.start();
    },
    prepare: async (section, issuer) => {
      const credentials = credentialsOf(section);
      const nextInputs = issuer === undefined ? inputs : withIssuer(inputs, issuer);
      if (verifierCovers(current, section, nextInputs, credentials)) return undefined;
      const next = buildGatewayVerifier(section, nextInputs, credentials) as GatewayVerifier; // throws ERR_CONFIG_INVALID
      try {
        await next.verifier.start({ requireFeed: true }); // a reload proves its feed credential before it serves
      } catch (err) {
        await next.verifier.close().catch(() => {});
        throw new GatehouseError('ERR_CONFIG_INVALID', {
          message: `gateway: the token verifier for this section could not start (JWKS or revocation feed of ${nextInputs.issuer}): ${(err as Error).message}`,
          detail: isGatehouseError(err) ? err.detail : undefined,
          cause: err,
        });
      }
      return {
        commit: async () => {
          const replaced = current;
          current = next;
          inputs = nextInputs;
          await replaced?.verifier.close();
        },
        abandon: () => next.verifier.close(),
      };
    },
    close: async () => {
      await current?.verifier.close();
    },
  };
}
