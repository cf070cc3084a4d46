import { createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { GatehouseError } from '../core/index.js';
import { constantTimeEqual, hkdfSha256, randomKey, sha256 } from '../crypto/index.js';

const ROOT_KEY_BYTES = 32;
const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/_-]{43}=?$/;

/**
 * The root key of the keyring: 32 bytes that seal every secret gatehouse stores. The bytes live in a KeyObject and
 * never appear in `toString`, `toJSON` or `util.inspect` output, which show only the non-secret fingerprint.
 * Reading the key from a file or the environment is the app's job; this class only parses and holds it.
 *
 * @example
 * const root = RootKey.parse(readFileSync(path, 'utf8'));
 * logger.info({ root: root.fingerprint() }, 'root key loaded');
 */
export class RootKey {
  readonly #key: KeyObject;
  readonly #fingerprint: string;

  private constructor(bytes: Buffer) {
    this.#key = createSecretKey(bytes);
    // The fingerprint is a hash of an HKDF output under its own label, so it reveals nothing about the key itself.
    const id = hkdfSha256(this.#key, 'gatehouse root key', 'fingerprint v1');
    this.#fingerprint = sha256(id).subarray(0, 8).toString('hex');
  }

  /**
   * A fresh random root key.
   *
   * @example
   * writeFileSync(path, RootKey.generate().toText(), { mode: 0o600 });
   */
  static generate(): RootKey {
    return new RootKey(randomKey());
  }

  /**
   * Parses a root key given as 64 hex digits or as base64 / base64url of 32 bytes (padding optional), surrounding
   * whitespace ignored. Anything else throws ERR_ROOT_KEY_INVALID (the message never echoes the input).
   *
   * @example
   * RootKey.parse('  ' + 'ab'.repeat(32) + '\n');
   */
  static parse(text: string): RootKey {
    const trimmed = text.trim();
    if (HEX.test(trimmed)) return new RootKey(Buffer.from(trimmed, 'hex'));
    if (BASE64.test(trimmed)) {
      const bytes = Buffer.from(trimmed, 'base64');
      const canonical = trimmed.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      if (bytes.length === ROOT_KEY_BYTES && bytes.toString('base64url') === canonical) return new RootKey(bytes);
    }
    throw new GatehouseError('ERR_ROOT_KEY_INVALID');
  }

  /**
   * A root key from its 32 raw bytes (copied).
   *
   * @example
   * const root = RootKey.fromBytes(randomBytes(32));
   */
  static fromBytes(bytes: Uint8Array): RootKey {
    if (bytes.length !== ROOT_KEY_BYTES) throw new GatehouseError('ERR_ROOT_KEY_INVALID');
    return new RootKey(Buffer.from(bytes));
  }

  /** The key as base64 text, for writing the root key file. This is the secret: never log it. */
  toText(): string {
    return this.#key.export().toString('base64');
  }

  /** A short non-secret identifier (16 hex digits) that tells root keys apart in sealed blobs and logs. */
  fingerprint(): string {
    return this.#fingerprint;
  }

  /** True when both hold the same bytes (compared in constant time). */
  equals(other: RootKey): boolean {
    return constantTimeEqual(this.#key.export(), other.#key.export());
  }

  /** The key for deriving sealing keys (kms internal). */
  keyObject(): KeyObject {
    return this.#key;
  }

  toString(): string {
    return `RootKey(${this.#fingerprint})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
