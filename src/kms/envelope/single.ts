import { randomBytes, randomFillSync } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import type { AeadAlgorithm } from '../../crypto/index.js';
import type { KeyMaterial } from '../key_info.js';
import { KEY_TYPES } from '../key_policy.js';
import { checkCommitment, deriveSingle } from './derive.js';
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
  /** 64 derived bytes: payload key (0-31) ‖ commitment (32-63). Wiped when dropped. */
  readonly okm: Buffer;
}

/**
 * Draws a fresh DEK, wraps it under `material` bound to `context`, derives the payload key and commitment, and wipes
 * the DEK.
 *
 * @example
 * const key = newSingleKey(await keys.encryptionKey('orders'), encodeContext(context));
 */
export function newSingleKey(material: KeyMaterial, context: Buffer): SingleKey {
  const aead = KEY_TYPES[material.type];
  const { out, prefixLength, headerLength } = startHeader('single', aead, material.name, material.version);
  const dek = randomBytes(SIZES.dek);
  wrapDek(out, prefixLength, material, dek, context);
  const okm = deriveSingle(dek);
  dek.fill(0);
  const commitAt = headerLength - SIZES.commitment;
  okm.copy(out, commitAt, 32, 64);
  return {
    keyName: material.name,
    keyVersion: material.version,
    aead,
    header: out,
    prefix: out.subarray(0, prefixLength),
    commitment: out.subarray(commitAt),
    okm,
  };
}

/**
 * Seals `plaintext` as a single-mode envelope: header ‖ fresh 12-byte nonce ‖ ciphertext ‖ tag, in one allocation.
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
  randomFillSync(out, headerLength, SIZES.nonce);
  const payloadKey = key.okm.subarray(0, 32);
  const nonce = out.subarray(headerLength, bodyAt);
  sealInto(key.aead, payloadKey, nonce, plaintext, [key.prefix, key.commitment, context], out, bodyAt);
  return out;
}

/**
 * Opens the payload of a single-mode envelope with its unwrapped DEK: checks the key commitment in constant time,
 * then decrypts. ERR_KMS_DECRYPT_FAILED on any mismatch; no plaintext unless everything authenticated.
 *
 * @example
 * const plaintext = openSingle(bytes, header, dek, contextBytes);
 */
export function openSingle(bytes: Buffer, header: EnvelopeHeader, dek: Buffer, context: Buffer): Buffer {
  const { headerLength, prefixLength } = header;
  if (bytes.length < headerLength + SIZES.nonce + SIZES.tag) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
  const commitAt = headerLength - SIZES.commitment;
  const okm = deriveSingle(dek);
  try {
    const commitment = bytes.subarray(commitAt, headerLength);
    checkCommitment(okm, commitment);
    const nonce = bytes.subarray(headerLength, headerLength + SIZES.nonce);
    const sealed = bytes.subarray(headerLength + SIZES.nonce);
    const aad = [bytes.subarray(0, prefixLength), commitment, context];
    return openSealed(header.aead, okm.subarray(0, 32), nonce, sealed, aad);
  } finally {
    okm.fill(0);
  }
}
