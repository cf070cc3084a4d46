import { GatehouseError } from '../../core/index.js';
import { fillRandom, writeNonce, type AeadAlgorithm } from '../../crypto/index.js';
import type { KeyMaterial } from '../key_info.js';
import { KEY_TYPES } from '../key_policy.js';
import { checkCommitment, singleCommitment } from './derive.js';
import { wrapDek } from './dek_wrap.js';
import { SIZES, startHeader, type EnvelopeHeader } from './format.js';
import { openSealed, sealInto } from './seal.js';

/** A single-shot data key ready to seal messages: its header (wrapped DEK and commitment) and payload key. */
export interface SingleKey {
  readonly keyName: string;
  readonly keyVersion: number;
  readonly aead: AeadAlgorithm;
  /** The complete single-mode header, copied in front of every message sealed with this key. */
  readonly header: Buffer;
  /** The header bytes outside the wrap section (prefix, then commitment): the payload AAD before the context. */
  readonly prefix: Buffer;
  readonly commitment: Buffer;
  /** The payload key: the DEK itself (32 bytes, outside the shared Buffer pool). Wiped when dropped. */
  readonly payloadKey: Buffer;
}

/** Randomness of one fresh single-shot envelope, drawn in one call: DEK 32 ‖ wrap nonce 12 ‖ payload nonce 12. */
const DEK_AT = 0;
const WRAP_NONCE_AT = SIZES.dek;
const PAYLOAD_NONCE_AT = WRAP_NONCE_AT + SIZES.nonce;
const RANDOM_BYTES = PAYLOAD_NONCE_AT + SIZES.nonce;

/**
 * Writes the single-mode header into `out` (prefix and key version already there): wraps `dek` under `material` with
 * `wrapNonce`, bound to `context`, then the key commitment SHA-256(label ‖ DEK). Returns the header length.
 */
function writeSingleHeader(
  out: Buffer,
  prefixLength: number,
  headerLength: number,
  material: KeyMaterial,
  dek: Buffer,
  wrapNonce: Buffer,
  context: Buffer,
): void {
  wrapDek(out, prefixLength, material, dek, context, wrapNonce);
  singleCommitment(dek).copy(out, headerLength - SIZES.commitment);
}

/**
 * Seals `plaintext` under a fresh DEK in one pass: one random draw (DEK, wrap nonce, payload nonce), one allocation
 * for the whole envelope (header ‖ nonce ‖ ciphertext ‖ tag), and the DEK wiped before returning.
 *
 * @example
 * const envelope = sealFreshSingle(await keys.encryptionKey('orders'), plaintext, encodeContext(context));
 */
export function sealFreshSingle(material: KeyMaterial, plaintext: Buffer, context: Buffer): Buffer {
  const aead = KEY_TYPES[material.type];
  const extra = SIZES.nonce + plaintext.length + SIZES.tag;
  const { out, prefixLength, headerLength } = startHeader('single', aead, material.name, material.version, extra);
  const random = Buffer.allocUnsafeSlow(RANDOM_BYTES);
  fillRandom(random, 0, RANDOM_BYTES);
  try {
    const dek = random.subarray(DEK_AT, WRAP_NONCE_AT);
    const wrapNonce = random.subarray(WRAP_NONCE_AT, PAYLOAD_NONCE_AT);
    writeSingleHeader(out, prefixLength, headerLength, material, dek, wrapNonce, context);
    const bodyAt = headerLength + SIZES.nonce;
    random.copy(out, headerLength, PAYLOAD_NONCE_AT, RANDOM_BYTES);
    const aad = [out.subarray(0, prefixLength), out.subarray(headerLength - SIZES.commitment, headerLength), context];
    sealInto(aead, dek, out.subarray(headerLength, bodyAt), plaintext, aad, out, bodyAt);
    return out;
  } finally {
    random.fill(0);
  }
}

/**
 * Draws a fresh DEK, wraps it under `material` bound to `context` and computes its commitment, for a key that seals
 * several messages (the data-key cache). The caller wipes `payloadKey` when it drops the key.
 *
 * @example
 * const key = newSingleKey(await keys.encryptionKey('orders'), encodeContext(context));
 */
export function newSingleKey(material: KeyMaterial, context: Buffer): SingleKey {
  const aead = KEY_TYPES[material.type];
  const { out, prefixLength, headerLength } = startHeader('single', aead, material.name, material.version);
  const random = Buffer.allocUnsafeSlow(PAYLOAD_NONCE_AT);
  fillRandom(random, 0, PAYLOAD_NONCE_AT);
  try {
    const dek = random.subarray(DEK_AT, WRAP_NONCE_AT);
    writeSingleHeader(out, prefixLength, headerLength, material, dek, random.subarray(WRAP_NONCE_AT), context);
    const payloadKey = Buffer.allocUnsafeSlow(SIZES.dek);
    dek.copy(payloadKey);
    const commitAt = headerLength - SIZES.commitment;
    return {
      keyName: material.name,
      keyVersion: material.version,
      aead,
      header: out,
      prefix: out.subarray(0, prefixLength),
      commitment: out.subarray(commitAt),
      payloadKey,
    };
  } finally {
    random.fill(0);
  }
}

/**
 * Seals `plaintext` with a (cached) single key: header ‖ fresh 12-byte nonce ‖ ciphertext ‖ tag, in one allocation.
 * Payload AAD = prefix ‖ commitment ‖ canonical context.
 *
 * @example
 * const envelope = sealSingle(key, plaintext, contextBytes);
 */
export function sealSingle(key: SingleKey, plaintext: Buffer, context: Buffer): Buffer {
  const headerLength = key.header.length;
  const out = Buffer.allocUnsafe(headerLength + SIZES.nonce + plaintext.length + SIZES.tag);
  key.header.copy(out, 0);
  const bodyAt = headerLength + SIZES.nonce;
  writeNonce(out, headerLength);
  const nonce = out.subarray(headerLength, bodyAt);
  sealInto(key.aead, key.payloadKey, nonce, plaintext, [key.prefix, key.commitment, context], out, bodyAt);
  return out;
}

/**
 * Opens the payload of a single-mode envelope with its unwrapped DEK: checks the key commitment in constant time,
 * then decrypts with the DEK. ERR_KMS_DECRYPT_FAILED on any mismatch; no plaintext unless everything authenticated.
 *
 * @example
 * const plaintext = openSingle(bytes, header, dek, contextBytes);
 */
export function openSingle(bytes: Buffer, header: EnvelopeHeader, dek: Buffer, context: Buffer): Buffer {
  const { headerLength, prefixLength } = header;
  if (bytes.length < headerLength + SIZES.nonce + SIZES.tag) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
  const commitment = bytes.subarray(headerLength - SIZES.commitment, headerLength);
  checkCommitment(singleCommitment(dek), commitment);
  const nonce = bytes.subarray(headerLength, headerLength + SIZES.nonce);
  const sealed = bytes.subarray(headerLength + SIZES.nonce);
  const aad = [bytes.subarray(0, prefixLength), commitment, context];
  return openSealed(header.aead, dek, nonce, sealed, aad);
}
