import { createHash } from 'node:crypto';
import { GatehouseError, type Clock, type RecordStore } from '../core/index.js';

/** Collection of revoked SPIFFE IDs (key: SHA-256 hex of the ID, since IDs may exceed the key limit). */
export const REVOCATION_COLLECTION = 'pki_revocations';

/** One entry of the deny list. */
export interface RevokedIdentity {
  spiffeId: string;
  /** ms since the epoch: certificates issued at or before this instant are refused. */
  revokedAt: number;
  /** ms since the epoch: by then every certificate issued before revocation has expired, so the entry goes. */
  expiresAt: number;
}

function keyOf(spiffeId: string): string {
  return createHash('sha256').update(spiffeId).digest('hex');
}

/**
 * Passive revocation by identity (like step-ca): a revoked SPIFFE ID cannot renew, cannot enroll again (join token or
 * access token) while its entry lives, and sidecars refuse its certificates issued before the revocation through the
 * short deny list. An entry lives as long as the longest certificate lifetime, after which no certificate issued
 * before it can still be valid. There is no un-revoke: were enrollment allowed while the entry lives, the new
 * certificate (its notBefore backdated for clock skew) could fall at or before `revokedAt` and be refused on arrival.
 *
 * @example
 * const revocations = new Revocations(store, clock, 86_400_000);
 * await revocations.revoke('spiffe://gatehouse.local/ns/prod/sa/api');
 * await revocations.isRevoked('spiffe://gatehouse.local/ns/prod/sa/api', cert.notBefore); // true
 */
export class Revocations {
  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
    private readonly maxCertificateLifetimeMs: number,
  ) {}

  /** Revokes `spiffeId` now (again: moves `revokedAt` forward). */
  async revoke(spiffeId: string): Promise<RevokedIdentity> {
    const revokedAt = this.clock.now();
    // Backdated certificates start up to a minute before issuance: keep the entry a little longer than the lifetime.
    const value: RevokedIdentity = {
      spiffeId,
      revokedAt,
      expiresAt: revokedAt + this.maxCertificateLifetimeMs + 60_000,
    };
    await this.store.write([
      { op: 'upsert', collection: REVOCATION_COLLECTION, key: keyOf(spiffeId), value, expiresAt: value.expiresAt },
    ]);
    return value;
  }

  /** True when `spiffeId` was revoked at or after `issuedAt` (a certificate's issuance instant). */
  async isRevoked(spiffeId: string, issuedAt: number): Promise<boolean> {
    const record = await this.store.get<RevokedIdentity>(REVOCATION_COLLECTION, keyOf(spiffeId));
    return record !== undefined && issuedAt <= record.value.revokedAt;
  }

  /**
   * Refuses enrollment of a listed identity: throws ERR_PKI_REVOKED (403) while `spiffeId` has a live deny-list entry,
   * whenever it was revoked (a join token or access token must not get it a new certificate).
   */
  async assertEnrollable(spiffeId: string): Promise<void> {
    const record = await this.store.get<RevokedIdentity>(REVOCATION_COLLECTION, keyOf(spiffeId));
    if (record === undefined) return;
    // Public: the deny list (GET /v1/ca/denylist) already shows both instants to anyone.
    const revokedAt = new Date(record.value.revokedAt).toISOString();
    const until = new Date(record.value.expiresAt).toISOString();
    throw new GatehouseError('ERR_PKI_REVOKED', {
      message: `This identity is revoked (at ${revokedAt}); it may enroll again from ${until}`,
      detail: `${spiffeId} was revoked at ${revokedAt}; it may enroll again from ${until}`,
    });
  }

  /** Every live entry (bounded by how many identities were revoked within one certificate lifetime). */
  async denyList(limit = 10_000): Promise<RevokedIdentity[]> {
    const records = await this.store.list<RevokedIdentity>(REVOCATION_COLLECTION, { limit });
    return records.map((r) => r.value);
  }
}

/**
 * The deny-list check a peer runs: a certificate of a listed identity issued at or before its revocation is refused.
 *
 * @example
 * if (isDenied(denyList, spiffeId, cert.notBefore)) socket.destroy();
 */
export function isDenied(list: readonly RevokedIdentity[], spiffeId: string, notBefore: number): boolean {
  return list.some((entry) => entry.spiffeId === spiffeId && notBefore <= entry.revokedAt);
}
