import { hash } from 'node:crypto';

// One-shot crypto.hash (Node ≥ 20.12; engines ask for ≥ 20.19) costs about a third of createHash().update().digest()
// on short inputs, and these helpers run on hot paths (verified-token cache keys, PKCE, client secrets).

/** Input to the hash helpers: strings are hashed as UTF-8. */
export type HashInput = string | Uint8Array;

/**
 * SHA-256 of `data`.
 *
 * @example
 * const digest = sha256('abc'); // 32 bytes
 */
export function sha256(data: HashInput): Buffer {
  return hash('sha256', data, 'buffer');
}

/**
 * SHA-256 of `data` as lowercase hex.
 *
 * @example
 * sha256Hex('abc'); // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export function sha256Hex(data: HashInput): string {
  return hash('sha256', data, 'hex');
}

/**
 * SHA-256 of `data` as base64url without padding (the form of PKCE S256 challenges and JWK thumbprints).
 *
 * @example
 * sha256Base64url('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'); // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
 */
export function sha256Base64url(data: HashInput): string {
  return hash('sha256', data, 'base64url');
}
