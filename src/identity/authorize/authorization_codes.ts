import { isGatehouseError, type Clock, type RecordStore } from '../../core/index.js';
import { randomToken, sha256Base64url } from '../../crypto/index.js';

/** Collection of authorization codes, keyed by the SHA-256 of the code. */
export const CODES_COLLECTION = 'identity_codes';

/** How long a used code is kept so that a replay can be recognised (and revoke what the code issued). */
const KEEP_USED_MS = 10 * 60_000;

/** What a code is bound to. */
export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  /** Whether the request named redirect_uri (then the token request must repeat it). */
  redirectUriGiven: boolean;
  codeChallenge: string;
  scopes: string[];
  audience: string;
  account: string;
  username: string;
  generation: number;
  roles: string[];
  authTime: number;
  /** OpenID Connect nonce of the authorization request, echoed in the ID token. */
  nonce?: string;
  /** The refresh family id the exchange will create (so that a replay can revoke it). */
  familyId: string;
}

interface StoredCode extends CodeGrant {
  usedAt: number | null;
}

/** The outcome of presenting a code. */
export type CodeUse =
  { kind: 'fresh'; grant: CodeGrant } | { kind: 'replayed'; grant: CodeGrant } | { kind: 'unknown' };

/**
 * One-time authorization codes: 256 random bits, stored by digest, living `ttlMs` (60 s by default). `consume` marks
 * a code used with one conditional update: of concurrent presentations exactly one is `fresh`; every other, and any
 * later one, is `replayed` (the caller revokes what the code issued). Used codes are kept 10 minutes to notice replays.
 *
 * @example
 * const code = await codes.issue(grant);
 * const use = await codes.consume(code);
 */
export class AuthorizationCodes {
  constructor(private readonly deps: { store: RecordStore; clock: Clock; ttlMs: number }) {}

  async issue(grant: CodeGrant): Promise<string> {
    const code = randomToken(32);
    await this.deps.store.write([
      {
        op: 'insert',
        collection: CODES_COLLECTION,
        key: sha256Base64url(code),
        value: { ...grant, usedAt: null } satisfies StoredCode,
        expiresAt: this.deps.clock.now() + this.deps.ttlMs,
      },
    ]);
    return code;
  }

  async consume(code: string): Promise<CodeUse> {
    if (code.length > 256) return { kind: 'unknown' };
    const key = sha256Base64url(code);
    const rec = await this.deps.store.get<StoredCode>(CODES_COLLECTION, key);
    if (!rec) return { kind: 'unknown' };
    const { usedAt: _usedAt, ...grant } = rec.value;
    if (rec.value.usedAt !== null) return { kind: 'replayed', grant };
    const now = this.deps.clock.now();
    try {
      await this.deps.store.write([
        {
          op: 'update',
          collection: CODES_COLLECTION,
          key,
          value: { ...rec.value, usedAt: now },
          expectVersion: rec.version,
          expiresAt: now + KEEP_USED_MS,
        },
      ]);
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_CONFLICT') || isGatehouseError(err, 'ERR_STORE_NOT_FOUND')) {
        return { kind: 'replayed', grant };
      }
      throw err;
    }
    return { kind: 'fresh', grant };
  }
}
