import { signJwt, signJwtAsync, type SigningKey } from '../../crypto/index.js';
import type { CertificateConfirmation } from '../clients/client_certificate.js';
import { newTokenId } from './token_ids.js';

/** What an RFC 9068 access token says. */
export interface AccessTokenClaims {
  issuer: string;
  subject: string;
  audience: string;
  clientId: string;
  /** Space-separated granted scopes ('' for none: the claim is then left out). */
  scope: string;
  roles?: readonly string[];
  ttlMs: number;
  /** RFC 8705 certificate binding: `cnf: { "x5t#S256": ... }`. */
  confirmation?: CertificateConfirmation;
}

/** A signed access token and what the token response needs about it. */
export interface IssuedAccessToken {
  token: string;
  jti: string;
  kid: string;
  expiresIn: number;
  expiresAt: number;
}

/** The RFC 9068 payload of `claims` at `now`, with its jti and times. */
function accessTokenPayload(claims: AccessTokenClaims, now: number) {
  const iat = Math.floor(now / 1000);
  const expiresIn = Math.max(1, Math.floor(claims.ttlMs / 1000));
  const jti = newTokenId();
  const payload: Record<string, unknown> = {
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.audience,
    exp: iat + expiresIn,
    iat,
    jti,
    client_id: claims.clientId,
  };
  if (claims.scope !== '') payload.scope = claims.scope;
  if (claims.roles && claims.roles.length > 0) payload.roles = [...claims.roles];
  if (claims.confirmation !== undefined) payload.cnf = { 'x5t#S256': claims.confirmation['x5t#S256'] };
  return { payload, jti, expiresIn, expiresAt: (iat + expiresIn) * 1000 };
}

/**
 * Signs an RFC 9068 JWT access token: header `typ: at+jwt`, `alg` and `kid` from the key; claims iss, sub, aud, exp,
 * iat, jti, client_id, scope (when any), roles (when the subject has some) and cnf (when certificate-bound, RFC 8705
 * §3.1). Times are whole seconds.
 *
 * @example
 * const at = issueAccessToken(claims, signingKeys.signer(), clock.now());
 */
export function issueAccessToken(claims: AccessTokenClaims, key: SigningKey, now: number): IssuedAccessToken {
  const { payload, jti, expiresIn, expiresAt } = accessTokenPayload(claims, now);
  return { token: signJwt({ typ: 'at+jwt' }, payload, key), jti, kid: key.kid, expiresIn, expiresAt };
}

/**
 * {@link issueAccessToken} with the signature computed on libuv's thread pool: what the token endpoint uses, so that
 * the event loop serves other connections (TLS, parsing) while a token is signed.
 *
 * @example
 * const at = await issueAccessTokenAsync(claims, signingKeys.signer(), clock.now());
 */
export async function issueAccessTokenAsync(
  claims: AccessTokenClaims,
  key: SigningKey,
  now: number,
): Promise<IssuedAccessToken> {
  const { payload, jti, expiresIn, expiresAt } = accessTokenPayload(claims, now);
  return { token: await signJwtAsync({ typ: 'at+jwt' }, payload, key), jti, kid: key.kid, expiresIn, expiresAt };
}
