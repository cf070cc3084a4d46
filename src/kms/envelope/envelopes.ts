import type { Transform, Writable } from 'node:stream';
import { GatehouseError, type Clock } from '../../core/index.js';
import type { KeyMaterial } from '../key_info.js';
import { encodeContext, type EncryptionContext } from './context.js';
import { DataKeyCache, type DataKeyCacheLimits } from './data_key_cache.js';
import { newDataKey, type DataKey } from './data_key.js';
import { unwrapDek } from './dek_wrap.js';
import { parseHeader, SEGMENT_LIMITS, type EnvelopeHeader, type EnvelopeMode } from './format.js';
import type { KeyMaterialSource } from './key_source.js';
import { newSingleKey, openSingle, sealFreshSingle, sealSingle, type SingleKey } from './single.js';
import { StreamKeys } from './stream_keys.js';
import { StreamReader } from './stream_open.js';
import { sealingStream } from './stream_seal.js';
import { openingStream, verifyingStream } from './stream_streams.js';
import { rewrapHeaderBytes } from './rewrap.js';
import { envelopeFromText, envelopeToText } from './text.js';

/** Options of {@link Envelopes}. */
export interface EnvelopesOptions {
  /** The keyring (or anything that hands out key-version material). The material it returns is wiped after use. */
  keys: KeyMaterialSource;
  /** Opt-in reuse of single-shot data keys per key name + context (off when absent). */
  cache?: DataKeyCacheLimits;
  clock: Clock;
}

/** The result of {@link Envelopes.decrypt}. */
export interface Decrypted {
  plaintext: Buffer;
  keyName: string;
  keyVersion: number;
}

/**
 * Envelope encryption over the keyring: self-describing binary envelopes (format in docs/kms-format.md) holding key
 * name, key version, a wrapped 32-byte data key and the AEAD payload, bound to an encryption context; rewrap that
 * rewrites only the wrapped-key header; data keys; streaming AEAD in authenticated segments with constant memory; and
 * an opt-in data-key cache. Every authentication failure is ERR_KMS_DECRYPT_FAILED with a fixed message.
 *
 * @example
 * const envelopes = new Envelopes({ keys: keyring, clock: systemClock });
 * const sealed = await envelopes.encrypt('orders', Buffer.from('card 4242'), { tenant: 'acme' });
 * const { plaintext } = await envelopes.decrypt(sealed, { tenant: 'acme' });
 */
export class Envelopes {
  private readonly keys: KeyMaterialSource;
  private readonly cache: DataKeyCache | undefined;

  constructor(options: EnvelopesOptions) {
    this.keys = options.keys;
    const cache = options.cache ? new DataKeyCache(options.cache, options.clock) : undefined;
    this.cache = cache;
    // Every key change this keyring makes (rotate, config, delete, restore, trim, by any API) drops that key's
    // cached data keys at once; `encrypt` also confirms each hit, which bounds another process's changes.
    if (cache) this.keys.onKeyChange((name) => cache.forgetKey(name));
  }

  /** `gh1:` + base64 of an envelope, for JSON APIs. */
  static toText(envelope: Buffer): string {
    return envelopeToText(envelope);
  }

  /** Parses {@link Envelopes.toText} output (ERR_KMS_DECRYPT_FAILED when it is not one). */
  static fromText(text: string): Buffer {
    return envelopeFromText(text);
  }

  /**
   * Encrypts `plaintext` under the current version of `keyName`, bound to `context`, as a single-shot envelope.
   *
   * @example
   * const sealed = await envelopes.encrypt('orders', Buffer.from('hello'), { table: 'orders' });
   */
  async encrypt(keyName: string, plaintext: Uint8Array, context?: EncryptionContext): Promise<Buffer> {
    const data = asBuffer(plaintext);
    const ctx = encodeContext(context);
    const cache = this.cache;
    if (!cache) {
      const material = await this.keys.encryptionKey(keyName);
      try {
        return sealFreshSingle(material, data, ctx);
      } finally {
        material.key.fill(0);
      }
    }
    const id = `${keyName}\u0000${ctx.toString('latin1')}`;
    // Asked before the (synchronous) take so that no await separates taking a cached key from sealing with it: a
    // concurrent drop would wipe it. A deleted key throws here; a cached key under an older version is dropped.
    const current = await this.keys.currentVersion(keyName);
    const hit = cache.take(id, data.length, current);
    if (hit) return sealSingle(hit, data, ctx);
    const key = await this.freshSingleKey(keyName, ctx);
    let cached = false;
    try {
      const out = sealSingle(key, data, ctx);
      cached = cache.put(id, key, data.length);
      return out;
    } finally {
      if (!cached) key.payloadKey.fill(0); // declined (a message larger than maxBytes): used once, wiped now
    }
  }

  /**
   * Decrypts a single-shot or stream envelope: the header names the key and version, `context` must match exactly.
   *
   * @example
   * const { plaintext, keyVersion } = await envelopes.decrypt(sealed, { table: 'orders' });
   */
  async decrypt(ciphertext: Uint8Array, context?: EncryptionContext): Promise<Decrypted> {
    const bytes = asBuffer(ciphertext);
    const ctx = encodeContext(context);
    const header = parseHeader(bytes);
    let plaintext: Buffer;
    if (header.mode === 'single') {
      const dek = await this.unwrap(bytes, header, ctx);
      try {
        plaintext = openSingle(bytes, header, dek, ctx);
      } finally {
        dek.fill(0);
      }
    } else if (header.mode === 'stream') {
      const parts: Buffer[] = [];
      const reader = new StreamReader(this.keys, ctx);
      try {
        await reader.write(bytes, (part) => parts.push(part));
        reader.end((part) => parts.push(part));
      } catch (err) {
        for (const part of parts) part.fill(0); // segments before the failure: never released
        throw err;
      } finally {
        reader.wipe(); // a failing segment in write() never reaches end(), which would wipe the derived keys
      }
      plaintext = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    } else {
      throw new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'a data key is not a ciphertext' });
    }
    return { plaintext, keyName: header.keyName, keyVersion: header.keyVersion };
  }

  /**
   * Re-wraps the data key of an envelope (single, stream or data key) under the key's current version and returns
   * the envelope with only its wrap section rewritten: the payload bytes are copied untouched, no plaintext leaves.
   *
   * @example
   * const fresh = await envelopes.rewrap(sealed, { table: 'orders' });
   */
  async rewrap(ciphertext: Uint8Array, context?: EncryptionContext): Promise<Buffer> {
    const bytes = asBuffer(ciphertext);
    const header = parseHeader(bytes);
    if (header.mode === 'datakey' && bytes.length !== header.headerLength) throw malformed();
    const fresh = await this.rewrapHeader(bytes, context);
    const out = Buffer.allocUnsafe(bytes.length);
    fresh.copy(out, 0);
    bytes.copy(out, fresh.length, fresh.length);
    return out;
  }

  /**
   * Re-wraps the header at the start of `headerBytes` (more bytes may follow; only the header is read) and returns
   * the new header, always the same length as the old one, so a file can be rewrapped by overwriting its header.
   *
   * @example
   * const { headerLength } = envelopes.parseHeader(first);
   * await file.write(await envelopes.rewrapHeader(first, context), 0, headerLength, 0);
   */
  async rewrapHeader(headerBytes: Uint8Array, context?: EncryptionContext): Promise<Buffer> {
    return rewrapHeaderBytes(this.keys, asBuffer(headerBytes), encodeContext(context));
  }

  /**
   * Parses the header at the start of `bytes` without decrypting (ERR_KMS_DECRYPT_FAILED when malformed or
   * incomplete). Reading the first `MAX_HEADER_BYTES` (275) bytes of an envelope always covers its header.
   *
   * @example
   * const { mode, headerLength } = envelopes.parseHeader(firstBytes);
   */
  parseHeader(bytes: Uint8Array): EnvelopeHeader {
    return parseHeader(asBuffer(bytes));
  }

  /**
   * Key name, key version and mode of an envelope, without decrypting.
   *
   * @example
   * const { keyVersion } = envelopes.inspect(sealed); // rewrap when below the latest
   */
  inspect(ciphertext: Uint8Array): { keyName: string; keyVersion: number; mode: EnvelopeMode } {
    const { keyName, keyVersion, mode } = parseHeader(asBuffer(ciphertext));
    return { keyName, keyVersion, mode };
  }

  /**
   * A fresh 32-byte data key wrapped under the current version of `keyName` (a header-only `datakey` envelope bound
   * to `context`), with its plaintext only when `plaintext: true`.
   *
   * @example
   * const { plaintext, wrapped } = await envelopes.dataKey('objects', { bucket: 'b1' }, { plaintext: true });
   */
  async dataKey(
    keyName: string,
    context?: EncryptionContext,
    options: { plaintext: boolean } = { plaintext: true },
  ): Promise<DataKey> {
    const ctx = encodeContext(context);
    const material = await this.keys.encryptionKey(keyName);
    try {
      return newDataKey(material, ctx, options.plaintext);
    } finally {
      material.key.fill(0);
    }
  }

  /**
   * The plaintext of a wrapped data key from {@link Envelopes.dataKey} (same context required).
   *
   * @example
   * const { plaintext } = await envelopes.unwrapDataKey(wrapped, { bucket: 'b1' });
   */
  async unwrapDataKey(wrapped: Uint8Array, context?: EncryptionContext): Promise<Decrypted> {
    const bytes = asBuffer(wrapped);
    const ctx = encodeContext(context);
    const header = parseHeader(bytes);
    if (header.mode !== 'datakey' || bytes.length !== header.headerLength) throw malformed();
    const plaintext = await this.unwrap(bytes, header, ctx);
    return { plaintext, keyName: header.keyName, keyVersion: header.keyVersion };
  }

  /**
   * A Transform encrypting a byte stream of any size in authenticated segments (default 64 KiB, 1 KiB to 16 MiB)
   * with constant memory. Key errors surface as the stream's error.
   *
   * @example
   * await pipeline(createReadStream(src), envelopes.encryptStream('objects', { object: 'a.bin' }), sink);
   */
  encryptStream(keyName: string, context?: EncryptionContext, options: { segmentSize?: number } = {}): Transform {
    const segmentSize = options.segmentSize ?? SEGMENT_LIMITS.default;
    if (!Number.isInteger(segmentSize) || segmentSize < SEGMENT_LIMITS.min || segmentSize > SEGMENT_LIMITS.max) {
      throw new GatehouseError('ERR_KMS_SEGMENT_SIZE_INVALID');
    }
    const ctx = encodeContext(context);
    return sealingStream(async () => {
      const material = await this.keys.encryptionKey(keyName);
      try {
        return StreamKeys.create(material, ctx, segmentSize);
      } finally {
        material.key.fill(0);
      }
    }, segmentSize);
  }

  /**
   * A Transform decrypting a stream envelope: each segment's plaintext is released only after that segment
   * authenticated; truncation, reordering, duplication, foreign segments or trailing bytes end it with
   * ERR_KMS_DECRYPT_FAILED. Data already released is then partial: use {@link Envelopes.verifyStream} first when
   * nothing may be released before the whole stream is known good.
   *
   * @example
   * await pipeline(createReadStream(file), envelopes.decryptStream({ object: 'a.bin' }), response);
   */
  decryptStream(context?: EncryptionContext): Transform {
    return openingStream(new StreamReader(this.keys, encodeContext(context)));
  }

  /**
   * A Writable that authenticates a whole stream envelope and releases nothing: it finishes only when every segment
   * and the end authenticated, and errors with ERR_KMS_DECRYPT_FAILED otherwise.
   *
   * @example
   * await pipeline(createReadStream(file), envelopes.verifyStream({ object: 'a.bin' }));
   */
  verifyStream(context?: EncryptionContext): Writable {
    return verifyingStream(new StreamReader(this.keys, encodeContext(context)));
  }

  /** Forgets and wipes every cached data key (key changes already drop that key's own: see the constructor). */
  clearCache(): void {
    this.cache?.clear();
  }

  private async freshSingleKey(keyName: string, ctx: Buffer): Promise<SingleKey> {
    const material = await this.keys.encryptionKey(keyName);
    try {
      return newSingleKey(material, ctx);
    } finally {
      material.key.fill(0);
    }
  }

  private async unwrap(bytes: Buffer, header: EnvelopeHeader, ctx: Buffer): Promise<Buffer> {
    const material: KeyMaterial = await this.keys.decryptionKey(header.keyName, header.keyVersion);
    try {
      return unwrapDek(bytes, header, material, ctx);
    } finally {
      material.key.fill(0);
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'expected bytes' });
}

function malformed(): GatehouseError {
  return new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'malformed envelope' });
}
