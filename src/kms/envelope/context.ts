import { GatehouseError } from '../../core/index.js';

/** The encryption context: non-secret string pairs authenticated with the data; decrypt must present the same ones. */
export type EncryptionContext = Readonly<Record<string, string>>;

/** Bounds of an encryption context: pairs and total encoded bytes. */
export const CONTEXT_LIMITS = { maxPairs: 64, maxEncodedBytes: 8192 } as const;

const EMPTY = Buffer.from([0, 0]);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(message: string): GatehouseError {
  return new GatehouseError('ERR_KMS_CONTEXT_INVALID', { message: `Invalid encryption context: ${message}` });
}

/**
 * The canonical bytes of an encryption context: uint16 pair count, then for each pair in ascending byte order of the
 * UTF-8 key: uint16 key length, key, uint16 value length, value (all big-endian). No context and `{}` encode alike.
 * Non-string values, empty keys, malformed UTF-16 and oversized contexts throw ERR_KMS_CONTEXT_INVALID.
 *
 * @example
 * encodeContext({ tenant: 'acme', table: 'orders' }); // 00 02 | 00 05 'table' 00 06 'orders' | 00 06 'tenant' ...
 */
export function encodeContext(context?: EncryptionContext): Buffer {
  if (context === undefined) return EMPTY;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) throw invalid('expected an object');
  const keys = Object.keys(context);
  if (keys.length === 0) return EMPTY;
  if (keys.length > CONTEXT_LIMITS.maxPairs) throw invalid(`more than ${CONTEXT_LIMITS.maxPairs} pairs`);
  const pairs: [Buffer, Buffer][] = [];
  let total = 2;
  for (const key of keys) {
    const value: unknown = context[key];
    if (key.length === 0) throw invalid('empty key');
    if (typeof value !== 'string') throw invalid('values must be strings');
    if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) throw invalid('malformed Unicode');
    const pair: [Buffer, Buffer] = [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')];
    total += 4 + pair[0].length + pair[1].length;
    if (total > CONTEXT_LIMITS.maxEncodedBytes) throw invalid(`more than ${CONTEXT_LIMITS.maxEncodedBytes} bytes`);
    pairs.push(pair);
  }
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  const out = Buffer.allocUnsafe(total);
  let at = out.writeUInt16BE(pairs.length, 0);
  for (const [key, value] of pairs) {
    at = out.writeUInt16BE(key.length, at);
    at += key.copy(out, at);
    at = out.writeUInt16BE(value.length, at);
    at += value.copy(out, at);
  }
  return out;
}
