import { fillRandom } from '../../crypto/index.js';
import type { KeyMaterial } from '../key_info.js';
import { KEY_TYPES } from '../key_policy.js';
import { SIZES, type EnvelopeHeader } from './format.js';
import { openSealed, sealInto } from './seal.js';

/**
 * Wraps `dek` under the key version in `material` into the wrap section of `out` (which starts at `prefixLength` with
 * the key version already written): a fresh 12-byte nonce, then DEK ciphertext ‖ tag with the key's AEAD. The AAD is
 * every header byte before the wrapped DEK (prefix, key version, wrap nonce) followed by the canonical context.
 * `nonce` (12 random bytes) lets a caller that drew its randomness in one call supply it; else it is drawn here.
 *
 * @example
 * wrapDek(out, prefixLength, material, dek, encodeContext(context));
 */
export function wrapDek(
  out: Buffer,
  prefixLength: number,
  material: KeyMaterial,
  dek: Buffer,
  context: Buffer,
  nonce?: Buffer,
): void {
  const nonceAt = prefixLength + SIZES.keyVersion;
  const dekAt = nonceAt + SIZES.nonce;
  if (nonce?.length === SIZES.nonce) nonce.copy(out, nonceAt);
  else fillRandom(out, nonceAt, SIZES.nonce);
  sealInto(
    KEY_TYPES[material.type],
    material.key,
    out.subarray(nonceAt, dekAt),
    dek,
    [out.subarray(0, dekAt), context],
    out,
    dekAt,
  );
}

/**
 * Unwraps the DEK of a parsed envelope with the material of its key version; ERR_KMS_DECRYPT_FAILED when the
 * header, the context or the key does not authenticate.
 *
 * @example
 * const dek = unwrapDek(bytes, header, await keys.decryptionKey(header.keyName, header.keyVersion), context);
 */
export function unwrapDek(bytes: Buffer, header: EnvelopeHeader, material: KeyMaterial, context: Buffer): Buffer {
  const nonceAt = header.prefixLength + SIZES.keyVersion;
  const dekAt = nonceAt + SIZES.nonce;
  return openSealed(
    KEY_TYPES[material.type],
    material.key,
    bytes.subarray(nonceAt, dekAt),
    bytes.subarray(dekAt, dekAt + SIZES.wrappedDek),
    [bytes.subarray(0, dekAt), context],
  );
}
