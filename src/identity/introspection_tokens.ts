import {
  decodeJwt,
  verificationKeyFromJwk,
  verifyJwtSignature,
  MAX_JWT_LENGTH,
  sha256Base64url,
  type VerificationKey,
} from '../crypto/index.js';

/** A token whose signature and type were checked once: what every later check still needs. */
interface Checked {
  kid: string;
  expMs: number;
  claims: Readonly<Record<string, unknown>>;
}

/** Verified tokens remembered, in two generations of this many (10,000 at most). */
const CACHE_GENERATION = 5_000;

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);

/**
 * Checks, in process and without any I/O, that a JWT is an access token this issuer signed and that has not expired:
 * `typ` at+jwt, a `kid` of the published JWKS (algorithm pinned by the key), the issuer's `iss`, `exp` in the future.
 * Verification keys are imported once per JWKS change. Revocation is the caller's business.
 *
 * A token that passed is remembered by its SHA-256 (at most 10,000, least recently seen dropped first), so checking
 * it again costs a hash instead of a signature verification (resource servers introspect the same token on every
 * call). A remembered token is still refused once it expires or once its key leaves the JWKS; its claims are frozen.
 *
 * @example
 * const check = new IssuedTokenCheck(() => signingKeys.jwksJson(), () => issuer);
 * const claims = check.claims(token, clock.now()); // undefined when not ours, invalid or expired
 */
export class IssuedTokenCheck {
  private jwksText = '';
  private keys = new Map<string, VerificationKey>();
  private recent = new Map<string, Checked>();
  private older = new Map<string, Checked>();

  constructor(
    private readonly jwksJson: () => string,
    private readonly issuer: () => string,
  ) {}

  /** The token's claims when it is a valid, unexpired access token of this issuer; otherwise undefined. */
  claims(token: string, now: number): Readonly<Record<string, unknown>> | undefined {
    if (token.length > MAX_JWT_LENGTH) return undefined;
    const digest = sha256Base64url(token);
    const seen = this.recall(digest);
    if (seen !== undefined) {
      if (seen.expMs <= now || this.key(seen.kid) === undefined) return undefined;
      return seen.claims;
    }
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
      const claims = Object.freeze(decoded.payload);
      this.remember(digest, { kid: kid as string, expMs: exp * 1000, claims });
      return claims;
    } catch {
      return undefined;
    }
  }

  private recall(digest: string): Checked | undefined {
    const hit = this.recent.get(digest);
    if (hit !== undefined) return hit;
    const old = this.older.get(digest);
    if (old !== undefined) {
      this.older.delete(digest);
      this.remember(digest, old);
    }
    return old;
  }

  private remember(digest: string, checked: Checked): void {
    if (this.recent.size >= CACHE_GENERATION) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(digest, checked);
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
