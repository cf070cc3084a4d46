import type { RecordStore, WriteOp } from '../../core/index.js';

/** Index of refresh token families by person: `account|familyId` → {@link FamilyIndexEntry}. */
export const REFRESH_BY_USER_COLLECTION = 'identity_refresh_by_user';

/** A family's entry in the per-person index, rewritten with each rotation. */
export interface FamilyIndexEntry {
  /**
   * When the family's one unused token expires (the idle limit from its last rotation, capped by the absolute expiry).
   * Absent in entries written before it was recorded.
   */
  idleExpiresAt?: number;
}

/** One listed family: its id and its recorded idle expiry (undefined for entries that predate it). */
export interface IndexedFamily {
  familyId: string;
  idleExpiresAt: number | undefined;
}

/**
 * The write that records family `familyId` of `account` with its idle expiry; the entry lives to the family's absolute
 * expiry (a password change must still find an idle-dead family to revoke it).
 *
 * @example
 * await store.write([familyIndexWrite('ada', familyId, now + idleMs, absoluteExpiresAt)]);
 */
export function familyIndexWrite(
  account: string,
  familyId: string,
  idleExpiresAt: number,
  absoluteExpiresAt: number,
): WriteOp {
  return {
    op: 'upsert',
    collection: REFRESH_BY_USER_COLLECTION,
    key: `${account}|${familyId}`,
    value: { idleExpiresAt } satisfies FamilyIndexEntry,
    expiresAt: absoluteExpiresAt,
  };
}

/**
 * The families indexed for `account` (before their absolute expiry; revoked ones included), at most `limit`.
 *
 * @example
 * const families = await listFamilyIndex(store, 'ada', 1000);
 */
export async function listFamilyIndex(store: RecordStore, account: string, limit: number): Promise<IndexedFamily[]> {
  const index = await store.list<FamilyIndexEntry>(REFRESH_BY_USER_COLLECTION, { prefix: `${account}|`, limit });
  return index.map((entry) => ({
    familyId: entry.key.slice(account.length + 1),
    idleExpiresAt: entry.value.idleExpiresAt,
  }));
}
