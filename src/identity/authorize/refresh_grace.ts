import type { RecordStore } from '../../core/index.js';
import { aeadDecrypt, aeadEncrypt, hkdfSha256 } from '../../crypto/index.js';
import {
  REFRESH_TOKENS_COLLECTION,
  type IssuedAccess,
  type RefreshFamily,
  type StoredRefreshToken,
} from './refresh_records.js';

const SEAL_INFO = 'gatehouse refresh successor v1';

/**
 * Seals the `successor` of a refresh token under a key derived from its `predecessor`, so that a reuse of the
 * predecessor inside the grace window can be handed the same successor while the store alone cannot reveal it.
 *
 * @example
 * const sealedSuccessor = sealSuccessor(token, successor);
 */
export function sealSuccessor(predecessor: string, successor: string): string {
  const key = hkdfSha256(Buffer.from(predecessor), 'gatehouse', SEAL_INFO);
  return aeadEncrypt('aes-256-gcm', key, Buffer.from(successor)).toString('base64url');
}

function openSuccessor(predecessor: string, sealed: string): string {
  const key = hkdfSha256(Buffer.from(predecessor), 'gatehouse', SEAL_INFO);
  return aeadDecrypt('aes-256-gcm', key, Buffer.from(sealed, 'base64url')).toString();
}

/**
 * The grace window of a reused refresh token: when `token` (stored as `used`) was used at most `graceMs` ago and its
 * successor is still unused, a new access token is issued (recorded with the family's tokens, so that it is revoked
 * with them) and the same successor is handed out again. Undefined outside the window: the reuse revokes the family.
 *
 * @example
 * const grace = await graceSuccessor({ store, graceMs }, { token, used, family, now, issue });
 * if (!grace) await refresh.revokeFamily(family);
 */
export async function graceSuccessor(
  deps: { store: RecordStore; graceMs: number },
  reuse: {
    token: string;
    used: StoredRefreshToken;
    family: RefreshFamily;
    now: number;
    issue: (family: RefreshFamily) => IssuedAccess;
  },
): Promise<{ kind: 'grace'; family: RefreshFamily; token: string } | undefined> {
  const { store, graceMs } = deps;
  const { token, used, family, now, issue } = reuse;
  if (graceMs <= 0 || used.usedAt === null || now - used.usedAt > graceMs) return undefined;
  if (used.successor === null || used.sealedSuccessor === null) return undefined;
  const next = await store.get<StoredRefreshToken>(REFRESH_TOKENS_COLLECTION, used.successor);
  if (!next || next.value.usedAt !== null) return undefined;
  const access = issue(family);
  // Recorded beside the family's tokens (no version race between concurrent grace uses), revoked with it.
  await store.write([
    {
      op: 'insert',
      collection: REFRESH_TOKENS_COLLECTION,
      key: `${family.familyId}:grace:${access.jti}`,
      value: { usedAt: now, successor: null, sealedSuccessor: null, access: [access] } satisfies StoredRefreshToken,
      expiresAt: family.absoluteExpiresAt,
    },
  ]);
  return { kind: 'grace', family, token: openSuccessor(token, used.sealedSuccessor) };
}
