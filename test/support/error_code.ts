import { isGatehouseError, type ErrorCode } from '../../src/core/index.js';

/**
 * The GatehouseError code a promise (or a function, sync or async) fails with; undefined when it succeeds. Any other
 * error is rethrown, so a test never mistakes a crash for a typed refusal.
 *
 * @example
 * expect(await codeOf(keyring.encrypt('gone', data))).toBe('ERR_KMS_KEY_DELETED');
 */
export async function codeOf(run: Promise<unknown> | (() => unknown)): Promise<ErrorCode | undefined> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (err) {
    if (isGatehouseError(err)) return err.code;
    throw err;
  }
  return undefined;
}
