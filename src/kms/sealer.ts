import { GatehouseError } from '../core/index.js';
import { aeadDecrypt, aeadEncrypt, hkdfSha256 } from '../crypto/index.js';
import type { RootKey } from './root_key.js';

/** The format tag of sealed blobs; a new format gets a new tag. */
const FORMAT = 'gh1';
const BLOB = /^gh1\.([0-9a-f]{16})\.([A-Za-z0-9_-]+)$/;

/**
 * The root-key fingerprint a sealed blob names, or `undefined` when the text is not a sealed blob.
 *
 * @example
 * sealedFingerprint(blob) === root.fingerprint();
 */
export function sealedFingerprint(blob: string): string | undefined {
  return BLOB.exec(blob)?.[1];
}

/**
 * Seals secrets under a root key with AES-256-GCM into compact text blobs `gh1.<root fingerprint>.<base64url(nonce ‖
 * ciphertext ‖ tag)>`. The AEAD key is derived from the root key with HKDF (one purpose, one key), and the associated
 * data binds the blob to its format, its root key and a label naming what it protects (e.g. `kms_key:orders:v3`), so a
 * blob copied to another record does not open there.
 *
 * @example
 * const sealer = new Sealer(root);
 * const blob = sealer.seal(keyBytes, 'kms_key:orders:v1');
 * const again = sealer.open(blob, 'kms_key:orders:v1');
 */
export class Sealer {
  readonly fingerprint: string;
  readonly #key: Buffer;

  constructor(root: RootKey) {
    this.fingerprint = root.fingerprint();
    this.#key = hkdfSha256(root.keyObject(), 'gatehouse root key', 'seal v1');
  }

  /** Seals `plaintext` for the record named by `label`. */
  seal(plaintext: Uint8Array, label: string): string {
    const sealed = aeadEncrypt('aes-256-gcm', this.#key, plaintext, this.aad(label));
    return `${FORMAT}.${this.fingerprint}.${sealed.toString('base64url')}`;
  }

  /** Opens a blob sealed for `label` under this root key; anything else throws ERR_SEAL_CORRUPT. */
  open(blob: string, label: string): Buffer {
    const match = BLOB.exec(blob);
    if (!match || match[1] !== this.fingerprint) {
      throw new GatehouseError('ERR_SEAL_CORRUPT', { detail: `sealed blob for ${label} is malformed or not ours` });
    }
    const body = Buffer.from(match[2] as string, 'base64url');
    if (body.toString('base64url') !== match[2]) {
      throw new GatehouseError('ERR_SEAL_CORRUPT', { detail: `sealed blob for ${label} is not canonical base64url` });
    }
    try {
      return aeadDecrypt('aes-256-gcm', this.#key, body, this.aad(label));
    } catch {
      throw new GatehouseError('ERR_SEAL_CORRUPT', { detail: `sealed blob for ${label} failed authentication` });
    }
  }

  private aad(label: string): Buffer {
    return Buffer.from(`${FORMAT}\0${this.fingerprint}\0${label}`, 'utf8');
  }
}

/**
 * The sealers a keyring holds: the current one, which seals, and after a root rotation the previous one, so that a
 * reader that fetched a record just before the rotation can still open it. Blobs name their root key, which picks.
 *
 * @example
 * const sealers = new SealerRing(new Sealer(root));
 * sealers.rotateTo(new Sealer(newRoot));
 * sealers.open(blob, label);
 */
export class SealerRing {
  private sealers: Sealer[];

  constructor(current: Sealer) {
    this.sealers = [current];
  }

  get current(): Sealer {
    return this.sealers[0] as Sealer;
  }

  /** Seals with the current root key. */
  seal(plaintext: Uint8Array, label: string): string {
    return this.current.seal(plaintext, label);
  }

  /**
   * Opens with whichever held root key the blob names. A well-formed blob naming a root key this ring does not hold
   * throws ERR_ROOT_KEY_NOT_HELD (503: re-sealed by another process's root rotation that this one has not adopted
   * yet); a malformed blob, or one that fails authentication under the key it names, throws ERR_SEAL_CORRUPT.
   */
  open(blob: string, label: string): Buffer {
    const fingerprint = sealedFingerprint(blob);
    const sealer = this.sealers.find((s) => s.fingerprint === fingerprint);
    if (sealer) return sealer.open(blob, label);
    if (fingerprint === undefined) return this.current.open(blob, label);
    throw new GatehouseError('ERR_ROOT_KEY_NOT_HELD', {
      detail: `sealed blob for ${label} names root key ${fingerprint}; this process holds ${this.sealers.map((s) => s.fingerprint).join(', ')}`,
    });
  }

  /** Makes `next` current, keeping the previous one for opening only. */
  rotateTo(next: Sealer): void {
    this.sealers = [next, this.current];
  }
}
