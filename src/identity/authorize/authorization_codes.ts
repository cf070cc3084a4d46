import { isGatehouseError, type Clock, type RecordStore, type StoredRecord } from '../../core/index.js';
import { randomToken, sha256Base64url } from '../../crypto/index.js';
import type { IssuedAccess } from './refresh_records.js';

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
  /** When a used code was presented again (a fresh exchange still in flight must then not hand out its token). */
  replayedAt?: number;
  /** The access token the exchange handed out, revoked on a replay. */
  access?: IssuedAccess;
}

/** The outcome of presenting a code. A replay carries the access token the first exchange recorded (if any yet). */
export type CodeUse =
  | { kind: 'fresh'; grant: CodeGrant }
  | { kind: 'replayed'; grant: CodeGrant; access: IssuedAccess[] }
  | { kind: 'unknown' };

/** Conditional writes retried when a concurrent presentation of the same code won the race. */
const ATTEMPTS = 3;

/**
 * One-time authorization codes: 256 random bits, stored by digest, living `ttlMs` (60 s by default). `consume` marks
 * a code used with one conditional update: of concurrent presentations exactly one is `fresh`; every other, and any
 * later one, is `replayed` and marks the code so (the caller revokes what the code issued). The fresh exchange
 * records the access token it is about to hand out with `recordAccess`, which fails when a replay came first; a replay
 * after it gets that token to revoke. Used codes are kept 10 minutes to notice replays.
 *
 * @example
 * const code = await codes.issue(grant);
 * const use = await codes.consume(code);
 * if (use.kind === 'fresh' && !(await codes.recordAccess(code, { jti, exp }))) throw replayed;
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
    let rec: StoredRecord<StoredCode> | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      rec = await this.deps.store.get<StoredCode>(CODES_COLLECTION, key);
      if (!rec) return { kind: 'unknown' };
      const now = this.deps.clock.now();
      const fresh = rec.value.usedAt === null;
      const marked: StoredCode = fresh ? { ...rec.value, usedAt: now } : { ...rec.value, replayedAt: now };
      if (await this.update(key, rec, marked, fresh ? now + KEEP_USED_MS : rec.expiresAt)) {
        return fresh ? { kind: 'fresh', grant: grantOf(rec.value) } : replayed(rec.value);
      }
    }
    // Still contended: someone else presented it meanwhile, so this is a replay of what was last read.
    return rec ? replayed(rec.value) : { kind: 'unknown' };
  }

  /**
   * Records the access token a fresh exchange is about to hand out, so that a later replay revokes it. False when the
   * code was presented again before (the exchange must then refuse, its token was never handed out).
   */
  async recordAccess(code: string, access: IssuedAccess): Promise<boolean> {
    const key = sha256Base64url(code);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const rec = await this.deps.store.get<StoredCode>(CODES_COLLECTION, key);
      if (!rec || rec.value.replayedAt !== undefined) return false;
      if (await this.update(key, rec, { ...rec.value, access }, rec.expiresAt)) return true;
    }
    return false;
  }

  /** One conditional update; false when another presentation changed (or expiry removed) the record first. */
  private async update(
    key: string,
    rec: StoredRecord<StoredCode>,
    value: StoredCode,
    expiresAt: number | null,
  ): Promise<boolean> {
    try {
      await this.deps.store.write([
        { op: 'update', collection: CODES_COLLECTION, key, value, expectVersion: rec.version, expiresAt },
      ]);
      return true;
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_CONFLICT') || isGatehouseError(err, 'ERR_STORE_NOT_FOUND')) return false;
      throw err;
    }
  }
}

function grantOf(stored: StoredCode): CodeGrant {
  const { usedAt: _usedAt, replayedAt: _replayedAt, access: _access, ...grant } = stored;
  return grant;
}

function replayed(stored: StoredCode): CodeUse {
  return { kind: 'replayed', grant: grantOf(stored), access: stored.access ? [stored.access] : [] };
}
