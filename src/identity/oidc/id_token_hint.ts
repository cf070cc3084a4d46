import { decodeJwt, MAX_JWT_LENGTH, verificationKeyFromJwk, verifyJwtSignature } from '../../crypto/index.js';

/** What a valid `id_token_hint` tells: whose sign-in it was, and for which client. */
export interface IdTokenHint {
  subject: string;
  clientId: string;
}

/**
 * Checks an `id_token_hint` (OpenID Connect RP-Initiated Logout §2): an ID token this issuer signed (`typ` JWT, a `kid`
 * of the published JWKS, the issuer's `iss`, a string `sub` and `aud`). It may have expired: a hint proves who asks,
 * it grants nothing. Returns undefined for anything else.
 *
 * @example
 * const hint = idTokenHint(token, signingKeys.jwksJson(), issuer); // { subject: 'ada', clientId } | undefined
 */
export function idTokenHint(token: string, jwksJson: string, issuer: string): IdTokenHint | undefined {
  if (token.length > MAX_JWT_LENGTH) return undefined;
  try {
    const decoded = decodeJwt(token, { maxLength: MAX_JWT_LENGTH });
    if (decoded.header.typ !== 'JWT') return undefined;
    const jwk = (JSON.parse(jwksJson) as { keys: Array<Record<string, unknown>> }).keys.find(
      (k) => k['kid'] === decoded.header.kid,
    );
    if (jwk === undefined) return undefined;
    verifyJwtSignature(decoded, verificationKeyFromJwk(jwk));
    const { iss, sub, aud } = decoded.payload;
    if (iss !== issuer || typeof sub !== 'string' || typeof aud !== 'string') return undefined;
    return { subject: sub, clientId: aud };
  } catch {
    return undefined;
  }
}
