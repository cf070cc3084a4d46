/** A revocation as the feed and the push fan-out carry it: a token id (`jti`, also API key ids) or a signing key id. */
export interface RevocationItem {
  jti?: string;
  key_id?: string;
  /** When the revoked credential expires anyway (epoch seconds): the entry is kept until then. */
  exp: number;
}

/**
 * The push channel of revocations between replicas and to embedded verifiers (Redis pub/sub in src/adapters/redis,
 * wired by src/app when `redis.url` is set). Best effort: the stored list and the feed stay the source of truth.
 *
 * @example
 * const stop = await bus.subscribe((item) => deny.add(item));
 * await bus.publish({ jti: 'a1b2', exp: 1767225600 });
 */
export interface RevocationBus {
  publish(item: RevocationItem): Promise<void>;
  subscribe(onItem: (item: RevocationItem) => void): Promise<() => Promise<void>>;
}

/**
 * True when `value` is a well-formed revocation item (as read from the wire).
 *
 * @example
 * if (isRevocationItem(JSON.parse(message))) apply(item);
 */
export function isRevocationItem(value: unknown): value is RevocationItem {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  if (typeof v['exp'] !== 'number' || !Number.isFinite(v['exp'])) return false;
  const jti = typeof v['jti'] === 'string' && v['jti'].length > 0 && v['jti'].length <= 256;
  const keyId = typeof v['key_id'] === 'string' && v['key_id'].length > 0 && v['key_id'].length <= 256;
  return jti !== keyId;
}
