import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import { fillRandom, type AeadAlgorithm } from '../../crypto/index.js';
import type { KeyMaterial } from '../key_info.js';
import { KEY_TYPES } from '../key_policy.js';
import { checkCommitment, deriveStream } from './derive.js';
import { wrapDek } from './dek_wrap.js';
import { SIZES, startHeader, type EnvelopeHeader } from './format.js';

const TAG = SIZES.tag;
const MAX_SEGMENTS = 2 ** 32;

/**
 * The keys of one stream: the segment key derived from the DEK and the stream's salt, the nonce prefix and the
 * payload AAD (header bytes outside the wrap section ‖ canonical context). Segment i uses the nonce
 * prefix(7) ‖ uint32 BE i ‖ last-flag(1). Counts segments and refuses a 2^32nd.
 */
export class StreamKeys {
  private readonly nonce = Buffer.alloc(SIZES.nonce);
  private next = 0;
  private finished = false;

  private constructor(
    private readonly aead: AeadAlgorithm,
    private readonly okm: Buffer,
    private readonly aad: Buffer,
    noncePrefix: Buffer,
  ) {
    noncePrefix.copy(this.nonce, 0);
  }

  /**
   * Starts a new stream under `material`: fresh DEK (wrapped, then wiped), salt and nonce prefix. Returns the keys
   * and the complete stream header to write first.
   *
   * @example
   * const { keys, header } = StreamKeys.create(await source.encryptionKey('objects'), ctx, 65536);
   */
  static create(material: KeyMaterial, context: Buffer, segmentSize: number): { keys: StreamKeys; header: Buffer } {
    const aead = KEY_TYPES[material.type];
    const { out, prefixLength, headerLength } = startHeader('stream', aead, material.name, material.version);
    const dek = Buffer.allocUnsafeSlow(SIZES.dek);
    fillRandom(dek, 0, SIZES.dek);
    wrapDek(out, prefixLength, material, dek, context);
    const commitAt = prefixLength + SIZES.wrap;
    const saltAt = commitAt + SIZES.commitment;
    const prefixAt = saltAt + SIZES.salt;
    fillRandom(out, saltAt, SIZES.salt + SIZES.noncePrefix);
    out.writeUInt32BE(segmentSize, headerLength - SIZES.segmentSize);
    const okm = deriveStream(dek, out.subarray(saltAt, prefixAt));
    dek.fill(0);
    okm.copy(out, commitAt, 32, 64);
    const keys = new StreamKeys(
      aead,
      okm,
      payloadAad(out, prefixLength, headerLength, context),
      out.subarray(prefixAt, prefixAt + SIZES.noncePrefix),
    );
    return { keys, header: out };
  }

  /**
   * The keys of an existing stream from its parsed header and unwrapped DEK (commitment checked in constant time).
   *
   * @example
   * const keys = StreamKeys.open(headerBytes, header, dek, ctx);
   */
  static open(bytes: Buffer, header: EnvelopeHeader, dek: Buffer, context: Buffer): StreamKeys {
    const commitAt = header.prefixLength + SIZES.wrap;
    const saltAt = commitAt + SIZES.commitment;
    const prefixAt = saltAt + SIZES.salt;
    const okm = deriveStream(dek, bytes.subarray(saltAt, prefixAt));
    try {
      checkCommitment(okm.subarray(32, 64), bytes.subarray(commitAt, saltAt));
    } catch (err) {
      okm.fill(0);
      throw err;
    }
    const aad = payloadAad(bytes, header.prefixLength, header.headerLength, context);
    return new StreamKeys(header.aead, okm, aad, bytes.subarray(prefixAt, prefixAt + SIZES.noncePrefix));
  }

  /** Seals the next segment (ciphertext ‖ tag); `last` marks the final one, after which nothing more is sealed. */
  seal(plaintext: Buffer, last: boolean): Buffer {
    const cipher = createCipheriv(this.aead as CipherGCMTypes, this.okm.subarray(0, 32), this.nextNonce(last), {
      authTagLength: TAG,
    });
    cipher.setAAD(this.aad);
    const out = Buffer.allocUnsafe(plaintext.length + TAG);
    let at = cipher.update(plaintext).copy(out, 0);
    at += cipher.final().copy(out, at);
    cipher.getAuthTag().copy(out, at);
    return out;
  }

  /** Opens the next segment; ERR_KMS_DECRYPT_FAILED unless it authenticates at this position with this flag. */
  open(sealed: Buffer, last: boolean): Buffer {
    if (sealed.length < TAG) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    let body: Buffer | undefined;
    try {
      const decipher = createDecipheriv(this.aead as CipherGCMTypes, this.okm.subarray(0, 32), this.nextNonce(last), {
        authTagLength: TAG,
      });
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
      decipher.setAAD(this.aad);
      body = decipher.update(sealed.subarray(0, sealed.length - TAG));
      const tail = decipher.final();
      return tail.length === 0 ? body : Buffer.concat([body, tail]);
    } catch {
      body?.fill(0); // unauthenticated plaintext
      throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    }
  }

  /** Wipes the derived keys. */
  wipe(): void {
    this.okm.fill(0);
  }

  private nextNonce(last: boolean): Buffer {
    if (this.finished || this.next >= MAX_SEGMENTS) {
      throw new GatehouseError('ERR_INTERNAL', { detail: 'stream finished or at its segment limit' });
    }
    this.nonce.writeUInt32BE(this.next, SIZES.noncePrefix);
    this.nonce[SIZES.nonce - 1] = last ? 1 : 0;
    this.next += 1;
    this.finished = last;
    return this.nonce;
  }
}

/** Payload AAD: the header without its wrap section (prefix ‖ commitment ‖ salt ‖ nonce prefix ‖ segment size) ‖ context. */
function payloadAad(header: Buffer, prefixLength: number, headerLength: number, context: Buffer): Buffer {
  return Buffer.concat([
    header.subarray(0, prefixLength),
    header.subarray(prefixLength + SIZES.wrap, headerLength),
    context,
  ]);
}
