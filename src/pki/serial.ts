import { randomBytes } from 'node:crypto';

/** Bytes of a serial number: 16 random bytes, top bit cleared and lowest bit of the first set, is 126 bits of entropy (CA/B asks for 64). */
const SERIAL_BYTES = 16;

/**
 * A random, positive, fixed-length certificate serial number as lowercase hex (no leading zero byte needed).
 *
 * @example
 * randomSerialNumber(); // e.g. '5f0c9a…' (32 hex digits)
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  // Positive (DER INTEGER top bit clear) and never starting with a zero byte, so the encoding keeps 16 bytes.
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes.toString('hex');
}
