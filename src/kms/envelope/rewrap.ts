import { checkCommitment, deriveStream, singleCommitment } from './derive.js';
import { unwrapDek, wrapDek } from './dek_wrap.js';
import { parseHeader, SIZES, startHeader, type EnvelopeHeader } from './format.js';
import type { KeyMaterialSource } from './key_source.js';

/**
 * Rewraps the header at the start of `bytes`: unwraps the DEK with the version the header names (context must
 * match), checks the key commitment (single and stream), wraps the same DEK under the key's current version with a
 * fresh nonce, and returns the new header, as long as the old one. Everything outside the wrap section is copied
 * unchanged; the DEK is wiped and never returned.
 *
 * @example
 * const header = await rewrapHeaderBytes(keyring, firstBytes, encodeContext(context));
 */
export async function rewrapHeaderBytes(keys: KeyMaterialSource, bytes: Buffer, context: Buffer): Promise<Buffer> {
  const header = parseHeader(bytes);
  const old = await keys.decryptionKey(header.keyName, header.keyVersion);
  let dek: Buffer;
  try {
    dek = unwrapDek(bytes, header, old, context);
  } finally {
    old.key.fill(0);
  }
  try {
    checkPayloadCommitment(bytes, header, dek);
    const material = await keys.encryptionKey(header.keyName);
    try {
      const { out, prefixLength } = startHeader(header.mode, header.aead, header.keyName, material.version);
      bytes.copy(out, prefixLength + SIZES.wrap, prefixLength + SIZES.wrap, header.headerLength);
      wrapDek(out, prefixLength, material, dek, context);
      return out;
    } finally {
      material.key.fill(0);
    }
  } finally {
    dek.fill(0);
  }
}

/** Checks the key commitment of a single or stream header against its DEK (data-key headers have none). */
function checkPayloadCommitment(bytes: Buffer, header: EnvelopeHeader, dek: Buffer): void {
  if (header.mode === 'datakey') return;
  const commitAt = header.prefixLength + SIZES.wrap;
  const saltAt = commitAt + SIZES.commitment;
  const stored = bytes.subarray(commitAt, saltAt);
  if (header.mode === 'single') return checkCommitment(singleCommitment(dek), stored);
  const okm = deriveStream(dek, bytes.subarray(saltAt, saltAt + SIZES.salt));
  try {
    checkCommitment(okm.subarray(32, 64), stored);
  } finally {
    okm.fill(0);
  }
}
