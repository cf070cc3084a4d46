import { isGatehouseError, type Clock, type RecordStore } from '../../core/index.js';
import { randomToken, secureRandomBytes } from '../../crypto/index.js';
import { familyIndexWrite, listFamilyIndex, type IndexedFamily } from './refresh_family_index.js';
import { graceSuccessor, sealSuccessor } from './refresh_grace.js';
import {
  REFRESH_FAMILIES_COLLECTION,
  REFRESH_REVOKED_COLLECTION,
  REFRESH_TOKENS_COLLECTION,
  refreshTokenKey,
  type IssuedAccess,
  type RefreshFamily,
  type StoredRefreshToken,
} from './refresh_records.js';

/** The outcome of presenting a refresh token. */
export type RefreshUse =
  | { kind: 'rotated'; family: RefreshFamily; token: string }
  | { kind: 'grace'; family: RefreshFamily; token: string }
  | { kind: 'reused'; family: RefreshFamily }
  | { kind: 'invalid' };

const FORMAT = /^ghr_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

/**
 * Refresh tokens in families, rotated on every use (RFC 9700 §4.14.2). Tokens look like `ghr_<family>_<secret>`; the
 * store holds only digests. `use` consumes with ONE conditional update (expected version) that also inserts the
 * successor, so of concurrent uses exactly one rotates. A reuse of a used token revokes the whole family, except inside
 * a non-zero `graceMs` after its use while the successor is still unused: then it gets that same successor (sealed
 * under a key derived from the presented token, so the store alone cannot reveal it). Tokens expire after `idleMs`
 * without use and at the family's absolute expiry.
 *
 * @example
 * const token = await refresh.start(family, access);
 * const use = await refresh.use(token, () => issueAccess());
 */
export class RefreshTokens {
  constructor(
    private readonly deps: {
      store: RecordStore;
      clock: Clock;
      idleMs: number;
      absoluteMs: number;
      graceMs: number;
      /** Called with the access tokens of a revoked family (wired to the revocation list). */
      onRevoked?: (family: RefreshFamily, access: IssuedAccess[]) => Promise<void>;
    },
  ) {}

  /** How long a family may go without a refresh before it ends (`identity.signIn.refreshIdleTtl`). */
  get idleMs(): number {
    return this.deps.idleMs;
  }

  /** A new family id (before the family exists: codes carry it so that a replayed code can revoke it). */
  static newFamilyId(): string {
    return secureRandomBytes(16).toString('hex');
  }

  /** Creates the family and its first token. */
  async start(
    family: Omit<RefreshFamily, 'createdAt' | 'absoluteExpiresAt'>,
    access: IssuedAccess,
  ): Promise<{ token: string; family: RefreshFamily }> {
    const now = this.deps.clock.now();
    const full: RefreshFamily = { ...family, createdAt: now, absoluteExpiresAt: now + this.deps.absoluteMs };
    const token = `ghr_${family.familyId}_${randomToken(32)}`;
    await this.deps.store.write([
      {
        op: 'insert',
        collection: REFRESH_FAMILIES_COLLECTION,
        key: family.familyId,
        value: full,
        expiresAt: full.absoluteExpiresAt,
      },
      this.tokenInsert(full, token, access, now),
      this.indexWrite(full, now),
    ]);
    return { token, family: full };
  }

  /** The live family of a token (not revoked, not expired), without using it. */
  async familyOf(token: string): Promise<RefreshFamily | undefined> {
    const m = FORMAT.exec(token);
    if (!m) return undefined;
    const familyId = m[1] as string;
    const [family, revoked] = await Promise.all([
      this.deps.store.get<RefreshFamily>(REFRESH_FAMILIES_COLLECTION, familyId),
      this.deps.store.get(REFRESH_REVOKED_COLLECTION, familyId),
    ]);
    return family && !revoked ? family.value : undefined;
  }

  /**
   * Presents `token`. `issue` makes the access token to hand out with the result (called before the write, so that its
   * jti is recorded; discarded when the use loses).
   */
  async use(token: string, issue: (family: RefreshFamily) => IssuedAccess): Promise<RefreshUse> {
    const family = await this.familyOf(token);
    if (!family) return { kind: 'invalid' };
    const key = refreshTokenKey(family.familyId, token);
    for (let attempt = 0; attempt < 2; attempt++) {
      const rec = await this.deps.store.get<StoredRefreshToken>(REFRESH_TOKENS_COLLECTION, key);
      if (!rec) return { kind: 'invalid' };
      const now = this.deps.clock.now();
      if (rec.value.usedAt === null) {
        const access = issue(family);
        const successor = `ghr_${family.familyId}_${randomToken(32)}`;
        const successorKey = refreshTokenKey(family.familyId, successor);
        const value: StoredRefreshToken = {
          ...rec.value,
          usedAt: now,
          successor: successorKey,
          sealedSuccessor: this.deps.graceMs > 0 ? sealSuccessor(token, successor) : null,
        };
        try {
          await this.deps.store.write([
            {
              op: 'update',
              collection: REFRESH_TOKENS_COLLECTION,
              key,
              value,
              expectVersion: rec.version,
              expiresAt: family.absoluteExpiresAt,
            },
            this.tokenInsert(family, successor, access, now),
            this.indexWrite(family, now),
          ]);
          return { kind: 'rotated', family, token: successor };
        } catch (err) {
          if (!isGatehouseError(err, 'ERR_STORE_CONFLICT') && !isGatehouseError(err, 'ERR_STORE_NOT_FOUND')) throw err;
          continue; // lost the race: decide as a reuse with the winner's record
        }
      }
      const grace = await graceSuccessor(this.deps, { token, used: rec.value, family, now, issue });
      if (grace) return grace;
      await this.revokeFamily(family);
      return { kind: 'reused', family };
    }
    await this.revokeFamily(family);
    return { kind: 'reused', family };
  }

  /** Revokes every family of a user (password change, disable): their refresh and access tokens stop working. */
  async revokeAllOf(account: string): Promise<number> {
    const index = await listFamilyIndex(this.deps.store, account, 10_000);
    for (const entry of index) await this.revokeFamily(entry.familyId);
    return index.length;
  }

  /**
   * The live families of a user, at most `limit` of them: what the account page lists as apps that stay connected. A
   * family is live until it is revoked, reaches its absolute expiry, or its idle limit passes (`idleMs` since the last
   * rotation, by the injected clock: its one unused token has then expired and no refresh can succeed).
   */
  async familiesOf(account: string, limit = 1000): Promise<RefreshFamily[]> {
    const now = this.deps.clock.now();
    const listed = await this.indexedFamilies(account, limit);
    const live = await Promise.all(
      listed.map(async ({ family, idleExpiresAt }) =>
        (idleExpiresAt === undefined ? await this.hasUnusedToken(family.familyId) : idleExpiresAt > now)
          ? family
          : undefined,
      ),
    );
    return live.filter((f): f is RefreshFamily => f !== undefined);
  }

  /**
   * Revokes every family a user granted to one client (the account page's "Revoke"); how many. Idle-expired families
   * are revoked too: they cannot refresh, but access tokens issued under them may outlive a short idle limit.
   */
  async revokeClientOf(account: string, clientId: string): Promise<number> {
    const families = (await this.indexedFamilies(account, 10_000))
      .map((f) => f.family)
      .filter((f) => f.clientId === clientId);
    for (const family of families) await this.revokeFamily(family);
    return families.length;
  }

  /** RFC 7009: revokes the family of `token` when it was issued to `clientId`; false (and nothing done) otherwise. */
  async revokeOwned(token: string, clientId: string): Promise<boolean> {
    const family = await this.familyOf(token);
    if (!family || family.clientId !== clientId) return false;
    await this.revokeFamily(family);
    return true;
  }

  /** Revokes a whole family: every token of it stops working, its access tokens go to `onRevoked`. Idempotent. */
  async revokeFamily(family: RefreshFamily | string): Promise<void> {
    const familyId = typeof family === 'string' ? family : family.familyId;
    const rec =
      typeof family === 'string'
        ? (await this.deps.store.get<RefreshFamily>(REFRESH_FAMILIES_COLLECTION, familyId))?.value
        : family;
    const expiresAt = rec?.absoluteExpiresAt ?? this.deps.clock.now() + this.deps.absoluteMs;
    await this.deps.store
      .write([
        {
          op: 'upsert',
          collection: REFRESH_REVOKED_COLLECTION,
          key: familyId,
          value: { revokedAt: this.deps.clock.now() },
          expiresAt,
        },
      ])
      .catch(() => undefined);
    if (rec && this.deps.onRevoked) {
      const tokens = await this.deps.store.list<StoredRefreshToken>(REFRESH_TOKENS_COLLECTION, {
        prefix: `${familyId}:`,
        limit: 10_000,
      });
      await this.deps.onRevoked(
        rec,
        tokens.flatMap((t) => t.value.access),
      );
    }
  }

  /** The user's families that are not revoked and before their absolute expiry, with their index entries. */
  private async indexedFamilies(
    account: string,
    limit: number,
  ): Promise<Array<{ family: RefreshFamily; idleExpiresAt: IndexedFamily['idleExpiresAt'] }>> {
    const index = await listFamilyIndex(this.deps.store, account, limit);
    const families = await Promise.all(
      index.map(async ({ familyId, idleExpiresAt }) => {
        const [family, revoked] = await Promise.all([
          this.deps.store.get<RefreshFamily>(REFRESH_FAMILIES_COLLECTION, familyId),
          this.deps.store.get(REFRESH_REVOKED_COLLECTION, familyId),
        ]);
        return family && !revoked && family.value.account === account
          ? { family: family.value, idleExpiresAt }
          : undefined;
      }),
    );
    return families.filter((f) => f !== undefined);
  }

  /** For index entries that predate `idleExpiresAt`: whether the family still has an unexpired, unused token. */
  private async hasUnusedToken(familyId: string): Promise<boolean> {
    const tokens = await this.deps.store.list<StoredRefreshToken>(REFRESH_TOKENS_COLLECTION, {
      prefix: `${familyId}:`,
      limit: 10_000,
    });
    return tokens.some((t) => t.value.usedAt === null);
  }

  /** The family's per-person index entry, its idle expiry counted from `now` (written with each new token). */
  private indexWrite(family: RefreshFamily, now: number) {
    return familyIndexWrite(family.account, family.familyId, this.idleExpiresAt(family, now), family.absoluteExpiresAt);
  }

  private idleExpiresAt(family: RefreshFamily, now: number): number {
    return Math.min(now + this.deps.idleMs, family.absoluteExpiresAt);
  }

  private tokenInsert(family: RefreshFamily, token: string, access: IssuedAccess, now: number) {
    return {
      op: 'insert' as const,
      collection: REFRESH_TOKENS_COLLECTION,
      key: refreshTokenKey(family.familyId, token),
      value: { usedAt: null, successor: null, sealedSuccessor: null, access: [access] } satisfies StoredRefreshToken,
      expiresAt: this.idleExpiresAt(family, now),
    };
  }
}
