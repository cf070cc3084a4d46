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
 * The user code length for `pending` live codes (this one included) when at most `attempts` wrong entries are
 * admitted during one code lifetime: the smallest `L ≥ 8` with `attempts · pending / 20^L ≤ 2^-32`, i.e.
 * `L = max(8, ⌈log20(attempts · pending · 2^32)⌉)`, capped at 16.
 *
 * @example
 * userCodeLength(1, 5); // 8
 * userCodeLength(1000, 660); // 12
 */
export function userCodeLength(pending: number, attempts: number): number {
  const needed = Math.log(Math.max(1, attempts) * Math.max(1, pending)) / Math.log(20) + 32 / Math.log2(20);
  let length = Math.max(MIN_USER_CODE_LENGTH, Math.ceil(needed - 1e-9));
  while (length < MAX_USER_CODE_LENGTH && guessProbability(attempts, pending, length) > GUESS_BOUND) length++;
  return Math.min(MAX_USER_CODE_LENGTH, length);
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
