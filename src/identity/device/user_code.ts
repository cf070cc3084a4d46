import { randomInt } from 'node:crypto';

/** RFC 8628 §6.1 base-20 alphabet: consonants only (no vowels, so no words; no look-alike digits). */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** The shortest user code ever issued (8 base-20 characters ≈ 34.6 bits). */
export const MIN_USER_CODE_LENGTH = 8;

/** The longest user code (keeps codes typeable; 16 base-20 characters ≈ 69 bits). */
export const MAX_USER_CODE_LENGTH = 16;

/** The target: the chance that guessing hits any pending code stays below 2^-32. */
export const GUESS_BOUND = 2 ** -32;

/**
 * The chance that `attempts` guesses hit any of `pending` live codes of `length` base-20 characters (union bound):
 * `attempts · pending / 20^length`.
 *
 * @example
 * guessProbability(5, 1, 8); // ≈ 1.95e-10, below 2^-32 ≈ 2.33e-10
 */
export function guessProbability(attempts: number, pending: number, length: number): number {
  return (attempts * Math.max(1, pending)) / USER_CODE_ALPHABET.length ** length;
}

/**
 * The harmonic number `H(n) = 1 + 1/2 + … + 1/n`.
 *
 * @example
 * harmonic(3); // 1.8333…
 */
export function harmonic(n: number): number {
  let sum = 0;
  for (let k = 1; k <= Math.max(1, Math.floor(n)); k++) sum += 1 / k;
  return sum;
}

/**
 * The user code length for `pending` live codes (this one included) when at most `attempts` wrong entries are
 * admitted during one code lifetime and at most `maxPending` codes live at once: the smallest `L ≥ 8` with
 * `attempts · pending · H(maxPending) / 20^L ≤ 2^-32`, capped at 16. The `H(maxPending)` factor makes the bound hold
 * for ALL live codes together even though each keeps the length chosen at its issue: the j-th oldest live code was
 * issued with at least j pending, so `Σ attempts / 20^L_j ≤ Σ 2^-32 / (j · H(maxPending)) ≤ 2^-32`.
 *
 * @example
 * userCodeLength(1, 5); // 8
 * userCodeLength(660, 1000); // 12
 */
export function userCodeLength(pending: number, attempts: number, maxPending = 1): number {
  const weight = Math.max(1, attempts) * harmonic(maxPending);
  let length = MIN_USER_CODE_LENGTH;
  while (length < MAX_USER_CODE_LENGTH && guessProbability(weight, pending, length) > GUESS_BOUND) length++;
  return length;
}

/**
 * A fresh random user code of `length` characters of {@link USER_CODE_ALPHABET} (node:crypto `randomInt`, unbiased),
 * normalized (no dashes, upper case).
 *
 * @example
 * newUserCode(8); // 'WDJBMJHT'
 */
export function newUserCode(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/**
 * A user code as typed (any case, dashes or spaces anywhere) in its stored form, or undefined when it cannot be one.
 *
 * @example
 * normalizeUserCode('wdjb-mjht'); // 'WDJBMJHT'
 */
export function normalizeUserCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  if (code.length < MIN_USER_CODE_LENGTH || code.length > MAX_USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

/**
 * A normalized code shown to people: groups of four joined by dashes (`XXXX-XXXX`).
 *
 * @example
 * formatUserCode('WDJBMJHT'); // 'WDJB-MJHT'
 */
export function formatUserCode(code: string): string {
  return (code.match(/.{1,4}/g) ?? []).join('-');
}
