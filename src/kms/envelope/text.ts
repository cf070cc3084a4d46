import { GatehouseError } from '../../core/index.js';

const PREFIX = 'gh1:';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The text form of an envelope for JSON APIs: `gh1:` followed by standard base64 (with padding).
 *
 * @example
 * const text = envelopeToText(envelope); // 'gh1:R0hFVgEB...'
 */
export function envelopeToText(envelope: Buffer): string {
  return PREFIX + envelope.toString('base64');
}

/**
 * Parses the text form made by {@link envelopeToText}; anything else (no prefix, non-canonical base64) throws
 * ERR_KMS_DECRYPT_FAILED.
 *
 * @example
 * const envelope = envelopeFromText(body.ciphertext);
 */
export function envelopeFromText(text: string): Buffer {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) throw notEnvelope();
  const body = text.slice(PREFIX.length);
  if (body.length % 4 !== 0 || !BASE64.test(body)) throw notEnvelope();
  const bytes = Buffer.from(body, 'base64');
  if (bytes.toString('base64') !== body) throw notEnvelope();
  return bytes;
}

function notEnvelope(): GatehouseError {
  return new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'not the text form of an envelope' });
}
