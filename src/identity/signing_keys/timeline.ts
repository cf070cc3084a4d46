/**
 * The life of a token signing key, as stored (no key material):
 *
 * ```
 * createdAt ──(published, not signing)── activatesAt ──(signs)── retiresAt ──(published, verifying)── removeAt
 * ```
 *
 * A key signs from `activatesAt` until `retiresAt` (the successor's `activatesAt`). It is in the JWKS from `createdAt`
 * until `retiresAt + maxTokenTtl`, so that every token it signed expires before verifiers can no longer find it.
 */
export interface SigningKeyMeta {
  kid: string;
  alg: string;
  createdAt: number;
  activatesAt: number;
  /** null while no successor exists. */
  retiresAt: number | null;
}

/**
 * The key that signs at `now`: the latest-activated key whose window holds `now`, or undefined.
 *
 * @example
 * const signer = signingKeyAt(keys, clock.now());
 */
export function signingKeyAt(keys: readonly SigningKeyMeta[], now: number): SigningKeyMeta | undefined {
  let best: SigningKeyMeta | undefined;
  for (const key of keys) {
    if (key.activatesAt > now) continue;
    if (key.retiresAt !== null && key.retiresAt <= now) continue;
    if (!best || key.activatesAt > best.activatesAt) best = key;
  }
  return best;
}

/**
 * The keys in the JWKS at `now`: created, and not yet past `retiresAt + maxTokenTtlMs`. Ordered signer first, then
 * newest first, so that the pre-published key is listed but does not lead.
 *
 * @example
 * const jwksKeys = publishedKeys(keys, now, 24 * 3_600_000);
 */
export function publishedKeys(keys: readonly SigningKeyMeta[], now: number, maxTokenTtlMs: number): SigningKeyMeta[] {
  const signer = signingKeyAt(keys, now);
  const live = keys.filter((k) => k.createdAt <= now && !isRemovable(k, now, maxTokenTtlMs));
  return live.sort((a, b) => (a === signer ? -1 : b === signer ? 1 : b.activatesAt - a.activatesAt));
}

/**
 * True when no token signed by `key` can still be valid at `now`, so it may leave the JWKS and be deleted.
 *
 * @example
 * if (isRemovable(key, now, maxTtl)) await store.remove(key.kid);
 */
export function isRemovable(key: SigningKeyMeta, now: number, maxTokenTtlMs: number): boolean {
  return key.retiresAt !== null && key.retiresAt + maxTokenTtlMs <= now;
}

/** A key that is published but does not sign yet. */
export function pendingKey(keys: readonly SigningKeyMeta[], now: number): SigningKeyMeta | undefined {
  return keys.find((k) => k.activatesAt > now);
}

/**
 * Whether the scheduled rotation should publish a successor now: when there is no signer at all, or the signer's
 * `activatesAt + rotateEveryMs` falls within the pre-publication window and no successor is pending.
 *
 * @example
 * if (rotationDue(keys, now, { rotateEveryMs, prePublishMs })) await signingKeys.rotate();
 */
export function rotationDue(
  keys: readonly SigningKeyMeta[],
  now: number,
  options: { rotateEveryMs: number; prePublishMs: number },
): boolean {
  if (pendingKey(keys, now)) return false;
  const signer = signingKeyAt(keys, now);
  if (!signer) return true;
  return signer.activatesAt + options.rotateEveryMs <= now + options.prePublishMs;
}

/**
 * The metadata changes of a rotation at `now`: the successor activates after `prePublishMs` (at once when nothing
 * signs yet, e.g. on first start), and the current signer retires at that moment. When a successor is already pending,
 * rotation is a no-op and returns it.
 *
 * @example
 * const plan = planRotation(keys, now, { kid, alg: 'ES256', prePublishMs: 3_600_000 });
 */
export function planRotation(
  keys: readonly SigningKeyMeta[],
  now: number,
  next: { kid: string; alg: string; prePublishMs: number },
): { added: SigningKeyMeta; retired?: SigningKeyMeta } | { pending: SigningKeyMeta } {
  const pending = pendingKey(keys, now);
  if (pending) return { pending };
  const signer = signingKeyAt(keys, now);
  const activatesAt = signer ? now + next.prePublishMs : now;
  const added: SigningKeyMeta = { kid: next.kid, alg: next.alg, createdAt: now, activatesAt, retiresAt: null };
  return signer ? { added, retired: { ...signer, retiresAt: activatesAt } } : { added };
}
