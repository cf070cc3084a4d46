import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { sha256Hex } from '../crypto/index.js';
import type { GatewayConfig, GatewayPrincipal } from '../gateway/index.js';
import { IDENTITY_PATHS } from '../identity/index.js';
import { ApiKeyIntrospection } from './gateway_api_keys.js';
import { gatewayNeeds } from './gateway_needs.js';
import {
  createVerifier,
  type Principal,
  type RevocationSubscribe,
  type Verifier,
  type VerifierOptions,
} from '../resource/index.js';

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

/** The credentials a gateway section is verified with; a standalone gateway reads them from the section. */
export interface GatewayCredentials {
  /** The bearer credential of the revocation feed (scope `revocations:read`), asked for on every poll. */
  feedCredential?: () => Promise<string>;
  /** API keys by introspection (only when no in-process key source is wired). */
  apiKeyIntrospection?: ApiKeyIntrospectionSettings;
  /**
   * Identifies `feedCredential` across reloads (a digest of the key it presents): a reload whose credential differs
   * rebuilds the verifier. Absent when the credential is the same for every section (`gatehouse up`'s in-process token).
   */
  feedFingerprint?: string;
}

/** Whose tokens the gateway accepts: `identity.issuer` and the CA bundle its JWKS and feed are trusted through. */
export interface VerifierIssuer {
  issuer: string | undefined;
  /** CA certificates the JWKS endpoint is verified against (default: system roots). */
  trustBundlePem?: string;
}

/** What the gateway's verifier is built from, besides the gateway section. */
export interface GatewayVerifierInputs extends VerifierIssuer {
  /** True when API keys are checked in process (then never by introspection). */
  inProcessApiKeys: boolean;
  revocationPush?: RevocationSubscribe;
  clock: Clock;
  logger: Logger;
}

/** A running (or ready to start) verifier of the gateway, and what it was built for. */
export interface GatewayVerifier {
  verifier: Verifier;
  /** API keys by introspection, when built for them. */
  introspected: ApiKeyIntrospection | undefined;
  /** Built for JWT routes (revocation read from the feed, or off), not for introspection alone. */
  jwt: boolean;
  /** What it was built from that a reload can change ({@link verifierSettings}). */
  settings: VerifierSettings;
}

/** The two parts of what a verifier was built from: for JWT routes, and for API keys by introspection (when built). */
export interface VerifierSettings {
  jwt: string;
  introspection: string | undefined;
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

/**
 * The verifier's revocation options for the gateway's JWT routes: `poll` (the default) needs a feed credential and
 * fails without one; `off` is an explicit opt-in, logged as insecure.
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

/** What `section` asks of the verifier: JWT routes, and API keys by introspection. */
function verifierNeeds(
  section: GatewayConfig,
  inputs: GatewayVerifierInputs,
  credentials: GatewayCredentials,
): { jwt: boolean; introspection: ApiKeyIntrospectionSettings | undefined } {
  const needs = gatewayNeeds(section);
  const introspection = !inputs.inProcessApiKeys && needs.apiKeys ? credentials.apiKeyIntrospection : undefined;
  return { jwt: needs.jwt, introspection };
}

/**
 * What a verifier built for `section` depends on that a reload can change, in two parts: for its JWT routes the issuer
 * and its CA bundle, the audience, the revocation settings and the feed credential's fingerprint; for API keys by
 * introspection the issuer, its CA bundle and the introspection client (its secret as a digest). A reload keeps the
 * running verifier when the parts the new section needs are unchanged, so removing the last API-key route or editing
 * only the key cache does not rebuild a JWT verifier.
 */
function verifierSettings(
  section: GatewayConfig,
  inputs: GatewayVerifierInputs,
  introspection: ApiKeyIntrospectionSettings | undefined,
  credentials: GatewayCredentials,
): VerifierSettings {
  const issuer = {
    issuer: inputs.issuer ?? null,
    trust: inputs.trustBundlePem === undefined ? null : sha256Hex(inputs.trustBundlePem),
  };
  return {
    jwt: JSON.stringify({
      ...issuer,
      audience: section.jwtAudience,
      revocation: section.revocation,
      feed: credentials.feedFingerprint ?? null,
    }),
    introspection:
      introspection === undefined
        ? undefined
        : JSON.stringify({ ...issuer, ...introspection, clientSecret: sha256Hex(introspection.clientSecret) }),
  };
}

/**
 * True when `running` already serves everything `section` needs (JWT routes, API keys by introspection) with the
 * same settings for those needs ({@link verifierSettings}), so a reload keeps it; false when a verifier must be built
 * for the section (the first JWT route, or a changed issuer, `jwtAudience`, `revocation` or credential).
 */
export function verifierCovers(
  running: GatewayVerifier | undefined,
  section: GatewayConfig,
  inputs: GatewayVerifierInputs,
  credentials: GatewayCredentials,
): boolean {
  const { jwt, introspection } = verifierNeeds(section, inputs, credentials);
  if (!jwt && introspection === undefined) return true;
  if (running === undefined) return false;
  const wanted = verifierSettings(section, inputs, introspection, credentials);
  return (
    (!jwt || (running.jwt && running.settings.jwt === wanted.jwt)) &&
    (introspection === undefined ||
      (running.introspected !== undefined && running.settings.introspection === wanted.introspection))
  );
}

/**
 * Builds (does not start) the resource-server verifier a gateway section needs: for JWT routes, against the issuer's
 * JWKS with revocations read from its feed (or off), and for API keys by introspection when no in-process key source
 * is wired; undefined when the section needs neither. Throws ERR_CONFIG_INVALID naming what is missing
 * (`identity.issuer`, `gateway.credentials.feedApiKey`, a maxStaleness not above the interval). The same function
 * serves the start and a reload that adds the first JWT route.
 *
 * @example
 * const built = buildGatewayVerifier(config.gateway, inputs, { feedCredential });
 * await built?.verifier.start();
 */
export function buildGatewayVerifier(
  section: GatewayConfig,
  inputs: GatewayVerifierInputs,
  credentials: GatewayCredentials,
): GatewayVerifier | undefined {
  const { jwt, introspection } = verifierNeeds(section, inputs, credentials);
  if (!jwt && introspection === undefined) return undefined;
  if (inputs.issuer === undefined) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message:
        'gateway routes with auth.kind jwt, and API keys by introspection, need identity.issuer (the identity server whose tokens and keys are accepted; read at start)',
    });
  }
  const base = inputs.issuer.replace(/\/+$/, '');
  const endpoint =
    introspection === undefined
      ? undefined
      : {
          url: `${base}${IDENTITY_PATHS.introspection}`,
          clientId: introspection.clientId,
          clientSecret: introspection.clientSecret,
        };
  // Without JWT routes and a feed, API-key revocation is bounded by the key cache (introspect mode).
  const polls = jwt || credentials.feedCredential !== undefined || endpoint === undefined;
  const verifier = createVerifier({
    issuer: inputs.issuer,
    audience: section.jwtAudience,
    jwks: {
      url: `${base}${IDENTITY_PATHS.jwks}`,
      ...(inputs.trustBundlePem === undefined ? {} : { ca: inputs.trustBundlePem }),
    },
    revocation: withPush(
      polls
        ? jwtRevocation(section.revocation, credentials.feedCredential, inputs.logger)
        : { mode: 'introspect', introspection: endpoint },
      inputs.revocationPush,
    ),
    ...(endpoint === undefined || introspection === undefined
      ? {}
      : {
          // Refused keys are remembered by ApiKeyIntrospection below (gateway.apiKeys.negativeCacheTtl), not twice.
          apiKeys: { introspect: endpoint, cacheTtlMs: introspection.cacheTtlMs, negativeCacheTtlMs: 0 },
          cache: { maxEntries: introspection.maxEntries },
        }),
    clock: inputs.clock,
    logger: inputs.logger,
  });
  let introspected: ApiKeyIntrospection | undefined;
  if (introspection !== undefined) {
    introspected = new ApiKeyIntrospection({
      introspect: async (key) => {
        const principal = await verifier.verifyToken(key);
        if (principal.kind !== 'api_key') throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'not an API key' });
        return toGatewayPrincipal(principal);
      },
      negativeTtlMs: introspection.negativeTtlMs,
      maxEntries: introspection.maxEntries,
      clock: inputs.clock,
    });
  }
  return {
    verifier,
    introspected,
    jwt: polls,
    settings: verifierSettings(section, inputs, introspection, credentials),
  };
}
