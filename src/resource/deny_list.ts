import type { Logger } from '../core/index.js';

/**
 * Revoked token ids (`jti`) and signing key ids, each kept until its `exp` (ms) has passed: after that the token is
 * refused as expired anyway. Bounded: when full, expired entries are dropped first, then the entries closest to
 * expiry (logged as a warning, since that weakens revocation).
 *
 * @example
 * deny.add('jti', 'a1b2', expMs);
 * deny.isDenied(claims.jti, header.kid, clock.now());
 */
export class DenyList {
  private readonly jtis = new Map<string, number>();
  private readonly keyIds = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.jtis.size + this.keyIds.size;
  }

  /** Records a revocation; ignored when already expired at `nowMs`. */
  add(kind: 'jti' | 'key_id', id: string, expMs: number, nowMs: number): void {
    if (!(expMs > nowMs)) return;
    const map = kind === 'jti' ? this.jtis : this.keyIds;
    map.set(id, Math.max(expMs, map.get(id) ?? 0));
    if (this.size > this.maxEntries) this.shrink(nowMs);
  }

  /** True when the token's `jti` or signing key id is revoked. */
  isDenied(jti: unknown, keyId: string | undefined, nowMs: number): boolean {
    if (typeof jti === 'string') {
      const exp = this.jtis.get(jti);
      if (exp !== undefined && exp > nowMs) return true;
    }
    if (keyId !== undefined && this.keyIds.size > 0) {
      const exp = this.keyIds.get(keyId);
      if (exp !== undefined && exp > nowMs) return true;
    }
    return false;
  }

  private shrink(nowMs: number): void {
    for (const map of [this.jtis, this.keyIds]) {
      for (const [id, exp] of map) if (exp <= nowMs) map.delete(id);
    }
    if (this.size <= this.maxEntries) return;
    const victims = [...this.jtis].sort((a, b) => a[1] - b[1]).slice(0, this.size - this.maxEntries);
    for (const [id] of victims) this.jtis.delete(id);
    this.logger.warn({ event: 'revocation_list_full', dropped: victims.length }, 'revocation deny list is full');
  }
}
