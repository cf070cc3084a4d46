import type { Logger } from '../core/index.js';

/**
 * Revoked token ids (`jti`) and signing key ids, each kept until its `exp` (ms) plus `skewMs` has passed: the claims
 * check accepts a token until exp + the clock skew, so an entry dropped at exp would let a revoked token back in for
 * that long; after it the token is refused as expired anyway. Bounded: when full, entries past that point are dropped
 * first, then the entries closest to it (logged as a warning, since that weakens revocation).
 *
 * @example
 * const deny = new DenyList(100_000, logger, clockSkewSeconds * 1000);
 * deny.add('jti', 'a1b2', expMs, clock.now());
 * deny.isDenied(claims.jti, header.kid, clock.now());
 */
export class DenyList {
  /** Id -> the time (ms) until which it is denied: its exp plus the skew. */
  private readonly jtis = new Map<string, number>();
  private readonly keyIds = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly logger: Logger,
    private readonly skewMs: number,
  ) {}

  get size(): number {
    return this.jtis.size + this.keyIds.size;
  }

  /** Records a revocation; ignored when its token is refused as expired at `nowMs` (past exp + skew). */
  add(kind: 'jti' | 'key_id', id: string, expMs: number, nowMs: number): void {
    const until = expMs + this.skewMs;
    if (!(until > nowMs)) return;
    const map = kind === 'jti' ? this.jtis : this.keyIds;
    map.set(id, Math.max(until, map.get(id) ?? 0));
    if (this.size > this.maxEntries) this.shrink(nowMs);
  }

  /** True when the token's `jti` or signing key id is revoked. */
  isDenied(jti: unknown, keyId: string | undefined, nowMs: number): boolean {
    if (typeof jti === 'string') {
      const until = this.jtis.get(jti);
      if (until !== undefined && until > nowMs) return true;
    }
    if (keyId !== undefined && this.keyIds.size > 0) {
      const until = this.keyIds.get(keyId);
      if (until !== undefined && until > nowMs) return true;
    }
    return false;
  }

  private shrink(nowMs: number): void {
    for (const map of [this.jtis, this.keyIds]) {
      for (const [id, until] of map) if (until <= nowMs) map.delete(id);
    }
    if (this.size <= this.maxEntries) return;
    const victims = [...this.jtis].sort((a, b) => a[1] - b[1]).slice(0, this.size - this.maxEntries);
    for (const [id] of victims) this.jtis.delete(id);
    this.logger.warn({ event: 'revocation_list_full', dropped: victims.length }, 'revocation deny list is full');
  }
}
