import { GatehouseError } from '../../core/index.js';
import type { AeadAlgorithm } from '../../crypto/index.js';

/** What an envelope holds: one sealed message, a segmented stream, or only a wrapped data key. */
export type EnvelopeMode = 'single' | 'stream' | 'datakey';

/** The first four bytes of every envelope: ASCII `GHEV`. */
export const MAGIC = 0x47484556;
/** The format version this code writes and reads. */
export const FORMAT_VERSION = 1;

const MODE_BYTES: Record<EnvelopeMode, number> = { single: 1, stream: 2, datakey: 3 };
const MODES: readonly (EnvelopeMode | undefined)[] = [undefined, 'single', 'stream', 'datakey'];
const AEAD_BYTES: Record<AeadAlgorithm, number> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };
const AEADS: readonly (AeadAlgorithm | undefined)[] = [undefined, 'aes-256-gcm', 'chacha20-poly1305'];
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Sizes of the fixed fields, in bytes. */
export const SIZES = {
  fixed: 8, // magic 4, format 1, mode 1, aead 1, key-name length 1
  keyVersion: 4,
  nonce: 12,
  dek: 32,
  tag: 16,
  wrappedDek: 48, // DEK ciphertext 32 ‖ tag 16
  wrap: 64, // key version 4 ‖ wrap nonce 12 ‖ wrapped DEK 48
  commitment: 32,
  salt: 32,
  noncePrefix: 7,
  segmentSize: 4,
} as const;

/** Bytes after the key name up to the end of the header, per mode. */
const TAIL: Record<EnvelopeMode, number> = {
  datakey: SIZES.wrap,
  single: SIZES.wrap + SIZES.commitment,
  stream: SIZES.wrap + SIZES.commitment + SIZES.salt + SIZES.noncePrefix + SIZES.segmentSize,
};

/** The longest header (stream mode, 128-byte key name): reading this many bytes always covers a header. */
export const MAX_HEADER_BYTES = SIZES.fixed + 128 + TAIL.stream;

/** Streaming segment sizes allowed (plaintext bytes per segment), and the default (64 KiB). */
export const SEGMENT_LIMITS = { min: 1024, max: 16 * 1024 * 1024, default: 64 * 1024 } as const;

/** A parsed envelope header (never any secret). Offsets are from the start of the envelope. */
export interface EnvelopeHeader {
  mode: EnvelopeMode;
  aead: AeadAlgorithm;
  keyName: string;
  keyVersion: number;
  /** Bytes of magic ‖ format ‖ mode ‖ aead ‖ name length ‖ name; the wrap section starts here. */
  prefixLength: number;
  /** Bytes of the whole header (for `single`, the payload nonce follows; for `stream`, the first segment). */
  headerLength: number;
  /** Plaintext bytes per segment (stream mode only, else 0). */
  segmentSize: number;
}

function malformed(): GatehouseError {
  return new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'malformed envelope header' });
}

/**
 * The header length announced by the first bytes of an envelope, or undefined when fewer than 8 bytes are given.
 * Throws ERR_KMS_DECRYPT_FAILED when those bytes cannot start an envelope.
 *
 * @example
 * const need = headerLengthOf(firstChunk); // then wait until `need` bytes have arrived
 */
export function headerLengthOf(bytes: Buffer): number | undefined {
  if (bytes.length < SIZES.fixed) return undefined;
  const mode = MODES[bytes[5] ?? 0];
  if (bytes.readUInt32BE(0) !== MAGIC || bytes[4] !== FORMAT_VERSION || mode === undefined) throw malformed();
  if (AEADS[bytes[6] ?? 0] === undefined) throw malformed();
  const nameLength = bytes[7] ?? 0;
  if (nameLength < 1 || nameLength > 128) throw malformed();
  return SIZES.fixed + nameLength + TAIL[mode];
}

/**
 * Parses the header at the start of `bytes` (which may continue with payload) without decrypting anything. Throws
 * ERR_KMS_DECRYPT_FAILED when the bytes are not a complete, well-formed version-1 header.
 *
 * @example
 * const { keyName, keyVersion, headerLength } = parseHeader(await readFirst(file, MAX_HEADER_BYTES));
 */
export function parseHeader(bytes: Buffer): EnvelopeHeader {
  const headerLength = headerLengthOf(bytes);
  if (headerLength === undefined || bytes.length < headerLength) throw malformed();
  const mode = MODES[bytes[5] ?? 0] as EnvelopeMode;
  const aead = AEADS[bytes[6] ?? 0] as AeadAlgorithm;
  const prefixLength = SIZES.fixed + (bytes[7] ?? 0);
  const keyName = bytes.toString('latin1', SIZES.fixed, prefixLength);
  if (!KEY_NAME.test(keyName)) throw malformed();
  const keyVersion = bytes.readUInt32BE(prefixLength);
  if (keyVersion < 1) throw malformed();
  let segmentSize = 0;
  if (mode === 'stream') {
    segmentSize = bytes.readUInt32BE(headerLength - SIZES.segmentSize);
    if (segmentSize < SEGMENT_LIMITS.min || segmentSize > SEGMENT_LIMITS.max) throw malformed();
  }
  return { mode, aead, keyName, keyVersion, prefixLength, headerLength, segmentSize };
}

/**
 * Allocates a header for `mode` and writes its prefix (magic, format, mode, aead, key name) and key version; the
 * caller fills the rest. `extra` bytes are allocated after the header (one allocation for the whole envelope).
 *
 * @example
 * const { out, prefixLength, headerLength } = startHeader('single', 'aes-256-gcm', 'orders', 3, 12 + n + 16);
 */
export function startHeader(
  mode: EnvelopeMode,
  aead: AeadAlgorithm,
  keyName: string,
  keyVersion: number,
  extra = 0,
): { out: Buffer; prefixLength: number; headerLength: number } {
  if (!KEY_NAME.test(keyName) || !Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 0xffffffff) {
    throw new GatehouseError('ERR_INTERNAL', { detail: 'key source returned an invalid key name or version' });
  }
  const prefixLength = SIZES.fixed + keyName.length;
  const headerLength = prefixLength + TAIL[mode];
  const out = Buffer.allocUnsafe(headerLength + extra);
  out.writeUInt32BE(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out[5] = MODE_BYTES[mode];
  out[6] = AEAD_BYTES[aead];
  out[7] = keyName.length;
  out.write(keyName, SIZES.fixed, 'latin1');
  out.writeUInt32BE(keyVersion, prefixLength);
  return { out, prefixLength, headerLength };
}
