import { fillRandom } from '../../crypto/index.js';
import type { KeyMaterial } from '../key_info.js';
import { KEY_TYPES } from '../key_policy.js';
import { wrapDek } from './dek_wrap.js';
import { SIZES, startHeader } from './format.js';

/** A data key from `Envelopes.dataKey`: `plaintext` only when asked for. */
export interface DataKey {
  plaintext?: Buffer;
  wrapped: Buffer;
  keyName: string;
  keyVersion: number;
}

/**
 * A fresh 32-byte DEK wrapped under `material` as a header-only `datakey` envelope (prefix ‖ wrap section) bound to
 * the canonical context; its plaintext is returned only when `withPlaintext`, and the working copy is wiped.
 *
 * @example
 * const { wrapped } = newDataKey(await keys.encryptionKey('objects'), encodeContext(context), false);
 */
export function newDataKey(material: KeyMaterial, context: Buffer, withPlaintext: boolean): DataKey {
  const dek = Buffer.allocUnsafeSlow(SIZES.dek);
  fillRandom(dek, 0, SIZES.dek);
  try {
    const { out, prefixLength } = startHeader('datakey', KEY_TYPES[material.type], material.name, material.version);
    wrapDek(out, prefixLength, material, dek, context);
    const result: DataKey = { wrapped: out, keyName: material.name, keyVersion: material.version };
    if (withPlaintext) result.plaintext = Buffer.from(dek);
    return result;
  } finally {
    dek.fill(0);
  }
}
