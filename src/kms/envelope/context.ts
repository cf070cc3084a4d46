import { GatehouseError } from '../../core/index.js';

/** The encryption context: non-secret string pairs authenticated with the data; decrypt must present the same ones. */
export type EncryptionContext = Readonly<Record<string, string>>;

/** Bounds of an encryption context: pairs and total encoded bytes. */
export const CONTEXT_LIMITS = { maxPairs: 64, maxEncodedBytes: 8192 } as const;

const EMPTY = Buffer.from([0, 0]);
/** `String.prototype.isWellFormed` (ES2024, in Node 20): false for a string holding a lone surrogate. */
const wellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * Orders two strings as their UTF-8 bytes would (= code point order). UTF-16 code units order the same except that a
 * surrogate (a code point from U+10000) sorts below U+E000–U+FFFF there and above them in UTF-8.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xe000 && y >= 0xd800 && y <= 0xdfff) return -1;
    if (y >= 0xe000 && x >= 0xd800 && x <= 0xdfff) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/** Writes uint16 length ‖ UTF-8 bytes of `text` at `at`; returns the offset after it. */
function writeField(out: Buffer, at: number, text: string): number {
  const length = out.write(text, at + 2, 'utf8');
  out.writeUInt16BE(length, at);
  return at + 2 + length;
}

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
  // Sizes and checks first (each value read once), then one buffer written in place: no Buffer per key and value.
  const pairs: Array<[string, string]> = [];
  let total = 2;
  for (const key of keys) {
    const value: unknown = context[key];
    if (key.length === 0) throw invalid('empty key');
    if (typeof value !== 'string') throw invalid('values must be strings');
    if (!wellFormed(key) || !wellFormed(value)) throw invalid('malformed Unicode');
    total += 4 + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
    if (total > CONTEXT_LIMITS.maxEncodedBytes) throw invalid(`more than ${CONTEXT_LIMITS.maxEncodedBytes} bytes`);
    pairs.push([key, value]);
  }
  if (pairs.length > 1) pairs.sort((a, b) => compareUtf8(a[0], b[0]));
  const out = Buffer.allocUnsafe(total);
  let at = out.writeUInt16BE(pairs.length, 0);
  for (const [key, value] of pairs) at = writeField(out, writeField(out, at, key), value);
  return out;
}
