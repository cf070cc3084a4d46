import { GatehouseError } from '../../core/index.js';

const CORRUPT = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE']);

/**
 * Maps an error from better-sqlite3 to the store's codes: corruption (or a file that is not a database) becomes
 * ERR_STORE_CORRUPT naming the file, anything else from SQLite ERR_STORE_UNAVAILABLE. GatehouseErrors pass through.
 *
 * @example
 * try { db.exec(sql); } catch (err) { throw sqliteError(err, file); }
 */
export function sqliteError(err: unknown, file: string): Error {
  if (err instanceof GatehouseError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_'))
    return err instanceof Error ? err : new Error(String(err));
  const reason = (err as Error).message.split('\n')[0] ?? code;
  if (CORRUPT.has(code) || code.startsWith('SQLITE_CORRUPT')) {
    return new GatehouseError('ERR_STORE_CORRUPT', { message: `${file}: ${reason} (${code})`, cause: err });
  }
  return new GatehouseError('ERR_STORE_UNAVAILABLE', { message: `${file}: ${reason} (${code})`, cause: err });
}
