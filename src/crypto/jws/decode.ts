import { GatehouseError } from '../../core/index.js';

/** The protected header of a JWS as parsed; only `alg` is known to be present (and a string). */
export interface JwsHeader {
  alg: string;
  typ?: string;
  kid?: string;
  [name: string]: unknown;
}

/** A compact JWS split and parsed, not yet verified. */
export interface DecodedJwt {
  readonly header: JwsHeader;
  readonly payload: Record<string, unknown>;
  /** `BASE64URL(header) '.' BASE64URL(payload)`, exactly as received: the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

/** Options of {@link decodeJwt}. */
export interface DecodeOptions {
  /** Largest token accepted, in characters (default {@link MAX_JWT_LENGTH}). */
  maxLength?: number;
}

/** Default size bound of a compact JWT: 16 KiB. */
export const MAX_JWT_LENGTH = 16 * 1024;

const B64URL = /^[A-Za-z0-9_-]*$/;

function malformed(detail: string): GatehouseError {
  return new GatehouseError('ERR_JWS_MALFORMED', { detail });
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Strict base64url: alphabet only, no padding, canonical (the unused low bits of the last character are zero, so one
 * byte string has exactly one encoding). Checked arithmetically instead of re-encoding, to keep the hot path cheap.
 */
function strictBase64url(part: string, what: string): Buffer {
  const rest = part.length % 4;
  if (rest === 1 || !B64URL.test(part)) throw malformed(`${what} is not unpadded base64url`);
  if (rest !== 0) {
    const last = ALPHABET.indexOf(part.charAt(part.length - 1));
    if ((last & (rest === 2 ? 0x0f : 0x03)) !== 0) throw malformed(`${what} is not canonical base64url`);
  }
  return Buffer.from(part, 'base64url');
}

function jsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed(`${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed(`${what} is not an object`);
  return value as Record<string, unknown>;
}

/**
 * Splits a compact JWS into header, payload and signature without verifying anything. Strict: exactly three
 * non-empty unpadded canonical base64url parts, header and payload JSON objects, header `alg` a string, a size bound.
 * Throws ERR_JWS_MALFORMED.
 *
 * @example
 * const decoded = decodeJwt(token);
 * const key = keysByKid.get(decoded.header.kid ?? '');
 */
export function decodeJwt(token: string, options: DecodeOptions = {}): DecodedJwt {
  if (typeof token !== 'string') throw malformed('not a string');
  if (token.length > (options.maxLength ?? MAX_JWT_LENGTH)) throw malformed('too large');
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || second === first + 1 || second === token.length - 1) {
    throw malformed('not three non-empty parts');
  }
  if (token.indexOf('.', second + 1) !== -1) throw malformed('more than three parts');
  const header = jsonObject(strictBase64url(token.slice(0, first), 'header'), 'header');
  if (typeof header['alg'] !== 'string') throw malformed('header has no alg');
  const payload = jsonObject(strictBase64url(token.slice(first + 1, second), 'payload'), 'payload');
  const signature = strictBase64url(token.slice(second + 1), 'signature');
  return { header: header as JwsHeader, payload, signingInput: token.slice(0, second), signature };
}
