import {
  decodeJwt,
  verificationKeyFromJwk,
  verifyJwtSignature,
  MAX_JWT_LENGTH,
  type VerificationKey,
} from '../crypto/index.js';

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);

/**
 * Checks, in process and without any I/O, that a JWT is an access token this issuer signed and that has not expired:
 * `typ` at+jwt, a `kid` of the published JWKS (algorithm pinned by the key), the issuer's `iss`, `exp` in the future.
 * Verification keys are imported once per JWKS change. Revocation is the caller's business.
 *
 * @example
 * const check = new IssuedTokenCheck(() => signingKeys.jwksJson(), () => issuer);
 * const claims = check.claims(token, clock.now()); // undefined when not ours, invalid or expired
 */
export class IssuedTokenCheck {
  private jwksText = '';
  private keys = new Map<string, VerificationKey>();

  constructor(
    private readonly jwksJson: () => string,
    private readonly issuer: () => string,
  ) {}

  /** The token's claims when it is a valid, unexpired access token of this issuer; otherwise undefined. */
  claims(token: string, now: number): Record<string, unknown> | undefined {
    if (token.length > MAX_JWT_LENGTH) return undefined;
    try {
      const decoded = decodeJwt(token, { maxLength: MAX_JWT_LENGTH });
      if (!ACCESS_TOKEN_TYPES.has(String(decoded.header.typ))) return undefined;
      const kid = decoded.header.kid;
      const key = typeof kid === 'string' ? this.key(kid) : undefined;
      if (key === undefined) return undefined;
      verifyJwtSignature(decoded, key);
      const { iss, exp, jti } = decoded.payload;
      if (iss !== this.issuer() || typeof exp !== 'number' || exp * 1000 <= now || typeof jti !== 'string') {
        return undefined;
      }
      return decoded.payload;
    } catch {
      return undefined;
    }
  }

  private key(kid: string): VerificationKey | undefined {
    const text = this.jwksJson();
    if (text !== this.jwksText) {
      const next = new Map<string, VerificationKey>();
      for (const jwk of (JSON.parse(text) as { keys: Array<Record<string, unknown>> }).keys) {
        try {
          next.set(String(jwk['kid']), verificationKeyFromJwk(jwk));
        } catch {
          // a key that does not import cannot verify anything
        }
      }
      this.keys = next;
      this.jwksText = text;
    }
    return this.keys.get(kid);
  }
}
