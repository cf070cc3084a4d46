import { GatehouseError, isGatehouseError, type RecordStore } from '../../core/index.js';
import { decodeJwt, verificationKeyFromJwk, verifyJwtSignature, type VerificationKey } from '../../crypto/index.js';
import { oauthError } from '../oauth_error.js';
import type { Client, ClientAuthMethod } from './client.js';
import { certificateAuthenticates, type PresentedCertificate } from './client_certificate.js';
import type { ClientCache } from './client_cache.js';
import { secretMatches } from './client_secret.js';

/** The collection of seen private_key_jwt assertion ids (replay protection), expiring with the assertion. */
export const JTI_COLLECTION = 'identity_jti';

/** RFC 7523 §2.2 client assertion type. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const BASIC = /^Basic ([A-Za-z0-9+/]+={0,2})$/;
const MAX_ASSERTION_LIFETIME_S = 3600;
const CLOCK_SKEW_S = 30;

/** The credentials a token request presents, before they are checked. */
export interface PresentedCredentials {
  method: ClientAuthMethod;
  clientId: string;
  secret?: string;
  assertion?: string;
  /** The connection's client certificate (mTLS listener only). */
  certificate?: PresentedCertificate;
}

function formDecode(part: string): string {
  if (!part.includes('%') && !part.includes('+')) return part;
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw oauthError('invalid_request', 'malformed Basic authorization header');
  }
}

/**
 * Reads how a token request authenticates: HTTP Basic (RFC 6749 §2.3.1, form-encoded id and secret), client_secret in
 * the body, a JWT assertion (RFC 7523), a bare client_id with the connection's client certificate (tls_client_auth,
 * RFC 8705 §2.1.2) or without one (public clients). More than one method at once, or a malformed Basic header, is
 * invalid_request; no credentials at all, or another Authorization scheme, is invalid_client. The certificate, when
 * there is one, is carried along whatever the method (it binds the tokens issued on this connection).
 *
 * @example
 * const presented = presentedCredentials(request.headers.authorization, params, request.certificate);
 */
export function presentedCredentials(
  authorization: string | undefined,
  params: ReadonlyMap<string, string>,
  certificate?: PresentedCertificate,
): PresentedCredentials {
  const presented = presentedMethod(authorization, params, certificate !== undefined);
  return certificate === undefined ? presented : { ...presented, certificate };
}

function presentedMethod(
  authorization: string | undefined,
  params: ReadonlyMap<string, string>,
  withCertificate: boolean,
): PresentedCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertion = params.get('client_assertion');
  const assertionType = params.get('client_assertion_type');
  if (authorization !== undefined) {
    if (!/^basic /i.test(authorization)) throw oauthError('invalid_client', 'unsupported authorization scheme');
    const match = BASIC.exec(authorization.replace(/^basic /i, 'Basic '));
    const decoded = match ? Buffer.from(match[1] as string, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (!match || colon <= 0) throw oauthError('invalid_request', 'malformed Basic authorization header');
    if (bodySecret !== undefined || assertion !== undefined) {
      throw oauthError('invalid_request', 'more than one client authentication method');
    }
    const clientId = formDecode(decoded.slice(0, colon));
    if (bodyId !== undefined && bodyId !== clientId) throw oauthError('invalid_request', 'client_id does not match');
    return { method: 'client_secret_basic', clientId, secret: formDecode(decoded.slice(colon + 1)) };
  }
  if (assertion !== undefined || assertionType !== undefined) {
    if (bodySecret !== undefined) throw oauthError('invalid_request', 'more than one client authentication method');
    if (assertionType !== JWT_BEARER_ASSERTION || assertion === undefined) {
      throw oauthError('invalid_request', 'client_assertion_type must be jwt-bearer with a client_assertion');
    }
    let sub: unknown;
    try {
      sub = decodeJwt(assertion).payload.sub;
    } catch {
      throw oauthError('invalid_client');
    }
    const clientId = bodyId ?? (typeof sub === 'string' ? sub : undefined);
    if (clientId === undefined) throw oauthError('invalid_client');
    return { method: 'private_key_jwt', clientId, assertion };
  }
  if (bodySecret !== undefined) {
    if (bodyId === undefined) throw oauthError('invalid_request', 'client_secret without client_id');
    return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
  }
  if (bodyId !== undefined) return { method: withCertificate ? 'tls_client_auth' : 'none', clientId: bodyId };
  throw oauthError('invalid_client', 'client authentication is required');
}

/**
 * Checks presented credentials against the registered client: the method must be the client's registered one (a
 * public client that happens to present a certificate is still `none`); secrets are compared as SHA-256 digests in
 * constant time (old secrets within their overlap included); assertions are verified against the client's registered
 * keys (alg pinned per key), must name the client as iss and sub, the issuer or token endpoint as aud, expire within
 * an hour, and are accepted once (jti recorded until exp); tls_client_auth needs the connection's certificate with
 * the registered SAN URI, so it never works without mTLS. Failures are invalid_client with a fixed message.
 *
 * @example
 * const client = await authenticateClient(presented, { cache, store, now, audiences: [issuer, tokenEndpoint] });
 */
export async function authenticateClient(
  presented: PresentedCredentials,
  deps: { cache: ClientCache; store: RecordStore; now: number; audiences: readonly string[] },
): Promise<Client> {
  const fail = (detail: string) => oauthError('invalid_client', undefined, detail);
  if (presented.clientId.length === 0 || presented.clientId.length > 128) throw fail('client_id length');
  const client = await deps.cache.get(presented.clientId);
  if (!client) throw fail('unknown client');
  const method = presented.method === 'tls_client_auth' && client.authMethod === 'none' ? 'none' : presented.method;
  if (client.authMethod !== method) {
    throw fail(
      client.authMethod === 'tls_client_auth' && presented.certificate === undefined
        ? 'tls_client_auth without a client certificate (mTLS endpoint only)'
        : 'auth method not registered for the client',
    );
  }
  switch (method) {
    case 'client_secret_basic':
    case 'client_secret_post':
      if (!secretMatches(client.secrets, presented.secret ?? '', deps.now)) throw fail('wrong secret');
      return client;
    case 'none':
      if (!client.public) throw fail('confidential client without credentials');
      return client;
    case 'private_key_jwt':
      await checkAssertion(client, presented.assertion ?? '', deps);
      return client;
    case 'tls_client_auth':
      if (!certificateAuthenticates(client, presented.certificate)) throw fail('client certificate SAN URI mismatch');
      return client;
  }
}

function keysFor(client: Client, kid: string | undefined, alg: string): VerificationKey[] {
  const out: VerificationKey[] = [];
  for (const jwk of client.jwks?.keys ?? []) {
    if (kid !== undefined && jwk.kid !== kid) continue;
    if (jwk.alg !== alg) continue;
    try {
      out.push(verificationKeyFromJwk(jwk));
    } catch {
      // a registered key that no longer imports is skipped
    }
  }
  return out;
}

async function checkAssertion(
  client: Client,
  assertion: string,
  deps: { store: RecordStore; now: number; audiences: readonly string[] },
): Promise<void> {
  const fail = (detail: string) => oauthError('invalid_client', undefined, detail);
  let decoded;
  try {
    decoded = decodeJwt(assertion, { maxLength: 8192 });
  } catch {
    throw fail('malformed assertion');
  }
  const keys = keysFor(client, decoded.header.kid, decoded.header.alg);
  const verified = keys.some((key) => {
    try {
      verifyJwtSignature(decoded, key);
      return true;
    } catch {
      return false;
    }
  });
  if (!verified) throw fail('assertion signature');
  const { iss, sub, aud, exp, jti, iat } = decoded.payload;
  const nowS = Math.floor(deps.now / 1000);
  if (iss !== client.clientId || sub !== client.clientId) throw fail('assertion iss/sub');
  const auds = Array.isArray(aud) ? aud : [aud];
  if (!auds.some((a) => typeof a === 'string' && deps.audiences.includes(a))) throw fail('assertion aud');
  if (typeof exp !== 'number' || exp + CLOCK_SKEW_S <= nowS || exp > nowS + MAX_ASSERTION_LIFETIME_S) {
    throw fail('assertion exp');
  }
  if (iat !== undefined && (typeof iat !== 'number' || iat > nowS + CLOCK_SKEW_S)) throw fail('assertion iat');
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw fail('assertion jti');
  try {
    await deps.store.write([
      {
        op: 'insert',
        collection: JTI_COLLECTION,
        key: `${client.clientId}:${jti}`.slice(0, 512),
        value: { exp },
        expiresAt: (exp + CLOCK_SKEW_S) * 1000,
      },
    ]);
  } catch (err) {
    if (isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw fail('assertion replayed');
    throw err;
  }
}

/** True when `err` is the token endpoint's invalid_client (the throttle counts these). */
export function isInvalidClient(err: unknown): boolean {
  return err instanceof GatehouseError && err.oauthError === 'invalid_client';
}
