import { GatehouseError } from '../../core/index.js';

/** A local user: a person who signs in with a password. */
export interface User {
  /** As typed at creation (shown on pages and put in `sub`). */
  username: string;
  roles: string[];
  disabled: boolean;
  /** `$scrypt$ln=..,r=..,p=..$salt$hash` (see password_hasher.ts). */
  passwordHash: string;
  /** Grows on every password change and disable: sessions and refresh families of an older generation are dead. */
  generation: number;
  createdAt: number;
  updatedAt: number;
}

const USERNAME = /^[\p{L}\p{N}._@-]{1,64}$/u;
const ROLE = /^[A-Za-z0-9._:-]{1,64}$/;

const invalid = (message: string) => new GatehouseError('ERR_IDENTITY_USER_INVALID', { message });

/**
 * The storage key of a username: Unicode NFC, lower-cased, so that `Ada` and `ada` are the same account.
 *
 * @example
 * usernameKey('Ada'); // 'ada'
 */
export function usernameKey(username: string): string {
  return username.normalize('NFC').toLowerCase();
}

/**
 * Checks a new username: 1-64 letters, digits, `.`, `_`, `-` or `@`.
 *
 * @example
 * checkUsername('ada.lovelace');
 */
export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME.test(username.normalize('NFC'))) {
    throw invalid('username must be 1-64 letters, digits, ".", "_", "-" or "@"');
  }
  return username.normalize('NFC');
}

/**
 * Checks a password: 8-1024 characters (long passphrases welcome; the upper bound caps hashing input).
 *
 * @example
 * checkPassword('correct horse battery staple');
 */
export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || [...password].length < 8 || password.length > 1024) {
    throw invalid('password must be 8-1024 characters');
  }
  return password;
}

/**
 * Checks role names (carried into access tokens as `roles`): unique, 1-64 of `A-Za-z0-9._:-`, at most 50.
 *
 * @example
 * checkRoles(['admin', 'billing:read']);
 */
export function checkRoles(roles: unknown): string[] {
  if (roles === undefined) return [];
  if (!Array.isArray(roles) || roles.length > 50) throw invalid('roles must be a list of at most 50 names');
  for (const role of roles) {
    if (typeof role !== 'string' || !ROLE.test(role)) throw invalid('a role is 1-64 of A-Z a-z 0-9 . _ : -');
  }
  if (new Set(roles).size !== roles.length) throw invalid('a role is listed twice');
  return [...(roles as string[])];
}

/**
 * A user as the admin API shows it: never the password hash.
 *
 * @example
 * userView(user); // { username, roles, disabled, createdAt, updatedAt }
 */
export function userView(user: User): Omit<User, 'passwordHash' | 'generation'> {
  const { passwordHash: _hash, generation: _generation, ...rest } = user;
  return rest;
}
