import { GatehouseError, type Clock, type Logger, type RecordStore } from '../../core/index.js';
import {
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  publicJwk,
  type JwsAlgorithm,
  type PublicJwk,
  type SigningKey,
} from '../../crypto/index.js';
import type { SealedSecrets } from './ports.js';
import {
  isRemovable,
  planRotation,
  publishedKeys,
  rotationDue,
  signingKeyAt,
  type SigningKeyMeta,
} from './timeline.js';

/** The collection of signing key metadata (the private keys are sealed secrets). */
export const SIGNING_KEYS_COLLECTION = 'identity_signing_keys';

const secretName = (kid: string) => `identity/signing-keys/${kid}`;

/** Options of {@link SigningKeys}. */
export interface SigningKeysOptions {
  store: RecordStore;
  vault: SealedSecrets;
  clock: Clock;
  logger: Logger;
  /** Algorithm of the access token key set (the default signer). */
  alg: JwsAlgorithm;
  /**
   * Further algorithms with a key set of their own (e.g. RS256 and ES256 for OpenID Connect ID tokens): each set
   * rotates on the same schedule, independently, and every set is published in the one JWKS.
   */
  extraAlgs?: readonly JwsAlgorithm[];
  prePublishMs: number;
  rotateEveryMs: number;
  /** Longest lifetime of any token we sign: retired keys stay published this long. */
  maxTokenTtlMs: number;
}

/**
 * The token signing keys: metadata on the RecordStore, private keys sealed in the KMS, imported once into KeyObjects
 * held in memory. Rotation pre-publishes the successor for `prePublishMs` before it signs; retired keys stay in the
 * JWKS until `retiresAt + maxTokenTtlMs`. Which key signs is a pure function of stored metadata and `now`, so every
 * replica agrees once it has refreshed (call `refresh` more often than `prePublishMs`).
 *
 * @example
 * const keys = await SigningKeys.open({ store, vault: keyring, clock, logger, alg: 'ES256', prePublishMs, rotateEveryMs, maxTokenTtlMs });
 * const signer = keys.signer(); // SigningKey for signJwt
 */
export class SigningKeys {
  private metas: SigningKeyMeta[] = [];
  private readonly loaded = new Map<string, SigningKey>();
  private jwksCache: { at: number; until: number; body: string } | undefined;

  private constructor(private readonly options: SigningKeysOptions) {}

  /** Loads the keys; creates the first one (signing at once) when there is none. */
  static async open(options: SigningKeysOptions): Promise<SigningKeys> {
    const keys = new SigningKeys(options);
    await keys.refresh();
    for (const alg of keys.algs()) if (!keys.signerMeta(alg)) await keys.rotate(alg);
    return keys;
  }

  /** Re-reads metadata and imports keys not yet in memory (other replicas' rotations). */
  async refresh(): Promise<void> {
    const records = await this.options.store.list<SigningKeyMeta>(SIGNING_KEYS_COLLECTION, { limit: 1000 });
    const metas = records.map((r) => r.value);
    for (const meta of metas) {
      if (this.loaded.has(meta.kid)) continue;
      const sealed = await this.options.vault.getSecret(secretName(meta.kid));
      if (!sealed) {
        this.options.logger.error({ kid: meta.kid }, 'signing key material missing from the keyring');
        continue;
      }
      this.loaded.set(meta.kid, importSigningKey(sealed));
    }
    for (const kid of [...this.loaded.keys()]) if (!metas.some((m) => m.kid === kid)) this.loaded.delete(kid);
    this.metas = metas.filter((m) => this.loaded.has(m.kid));
    this.jwksCache = undefined;
  }

  /** Every algorithm with a key set: the access token algorithm first. */
  algs(): JwsAlgorithm[] {
    return [...new Set([this.options.alg, ...(this.options.extraAlgs ?? [])])];
  }

  /**
   * The key of `alg`'s set (default: the access token algorithm) that signs now
   * (ERR_IDENTITY_SIGNING_KEY_UNAVAILABLE when none: fails closed).
   */
  signer(alg: JwsAlgorithm = this.options.alg): SigningKey {
    const meta = this.algs().includes(alg) ? this.signerMeta(alg) : undefined;
    const key = meta && this.loaded.get(meta.kid);
    if (!key) throw new GatehouseError('ERR_IDENTITY_SIGNING_KEY_UNAVAILABLE');
    return key;
  }

  /**
   * The JWKS document at now: per key set (access token algorithm first), signer first, pre-published and
   * retired-but-verifying keys after it.
   */
  jwks(): { keys: PublicJwk[] } {
    const now = this.options.clock.now();
    const keys = this.algs().flatMap((alg) => publishedKeys(this.ofAlg(alg), now, this.options.maxTokenTtlMs));
    return { keys: keys.map((m) => publicJwk(this.loaded.get(m.kid) as SigningKey)) };
  }

  /** The JWKS as a JSON string, cached until the next timeline change (or one minute). */
  jwksJson(): string {
    const now = this.options.clock.now();
    const cached = this.jwksCache;
    if (cached && now >= cached.at && now < cached.until) return cached.body;
    const edges = this.metas
      .flatMap((m) => [
        m.activatesAt,
        m.createdAt,
        ...(m.retiresAt === null ? [] : [m.retiresAt + this.options.maxTokenTtlMs]),
      ])
      .filter((t) => t > now);
    const until = Math.min(now + 60_000, ...edges);
    const body = JSON.stringify(this.jwks());
    this.jwksCache = { at: now, until, body };
    return body;
  }

  /** Seconds a verifier may cache the JWKS: at most half the pre-publication window, at most 10 minutes. */
  jwksMaxAgeSeconds(): number {
    return Math.max(0, Math.min(600, Math.floor(this.options.prePublishMs / 2000)));
  }

  /** Metadata of every stored key (for the admin API): never key material. */
  list(): SigningKeyMeta[] {
    return this.metas.map((m) => ({ ...m }));
  }

  /**
   * Publishes a successor (or returns the pending one): it signs after the pre-publication window. The private key is
   * sealed before its metadata is written, so a crash leaves at worst an unreferenced sealed secret.
   */
  async rotate(alg: JwsAlgorithm = this.options.alg): Promise<{ kid: string; activatesAt: number; alg: string }> {
    await this.refresh();
    const now = this.options.clock.now();
    const key = generateSigningKey(alg);
    const plan = planRotation(this.ofAlg(alg), now, {
      kid: key.kid,
      alg: key.alg,
      prePublishMs: this.options.prePublishMs,
    });
    if ('pending' in plan)
      return { kid: plan.pending.kid, activatesAt: plan.pending.activatesAt, alg: plan.pending.alg };
    await this.options.vault.putSecret(secretName(key.kid), exportSigningKey(key));
    const ops = [
      { op: 'insert' as const, collection: SIGNING_KEYS_COLLECTION, key: plan.added.kid, value: plan.added },
      ...(plan.retired
        ? [{ op: 'upsert' as const, collection: SIGNING_KEYS_COLLECTION, key: plan.retired.kid, value: plan.retired }]
        : []),
    ];
    try {
      await this.options.store.write(ops);
    } catch (err) {
      await this.options.vault.deleteSecret(secretName(key.kid)).catch(() => undefined);
      throw err;
    }
    this.options.logger.info(
      {
        audit: true,
        event: 'signing_key.rotated',
        kid: key.kid,
        alg: key.alg,
        activatesAt: new Date(plan.added.activatesAt).toISOString(),
      },
      'signing key published',
    );
    await this.refresh();
    return { kid: plan.added.kid, activatesAt: plan.added.activatesAt, alg: plan.added.alg };
  }

  /** The scheduled job: rotates when due, deletes keys no token can need any more. Run it under a lease. */
  async maintain(): Promise<{ rotated: boolean; removed: string[] }> {
    await this.refresh();
    const now = this.options.clock.now();
    const { rotateEveryMs, prePublishMs, maxTokenTtlMs } = this.options;
    let rotated = false;
    for (const alg of this.algs()) {
      if (rotationDue(this.ofAlg(alg), now, { rotateEveryMs, prePublishMs })) {
        await this.rotate(alg);
        rotated = true;
      }
    }
    const removed: string[] = [];
    for (const meta of this.metas) {
      if (!isRemovable(meta, now, maxTokenTtlMs)) continue;
      await this.options.store.write([{ op: 'delete', collection: SIGNING_KEYS_COLLECTION, key: meta.kid }]);
      await this.options.vault.deleteSecret(secretName(meta.kid));
      removed.push(meta.kid);
    }
    if (removed.length > 0) {
      this.options.logger.info({ kids: removed }, 'retired signing keys removed');
      await this.refresh();
    }
    return { rotated, removed };
  }

  private signerMeta(alg: JwsAlgorithm): SigningKeyMeta | undefined {
    return signingKeyAt(this.ofAlg(alg), this.options.clock.now());
  }

  private ofAlg(alg: JwsAlgorithm): SigningKeyMeta[] {
    return this.metas.filter((m) => m.alg === alg);
  }
}
