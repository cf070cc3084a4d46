import { GatehouseError } from '../../core/index.js';

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);

/**
 * Maps an error from `pg` to the store's codes: unique violations, serialization failures and deadlocks become
 * ERR_STORE_CONFLICT; anything else (unreachable server, dropped connection, refusal) ERR_STORE_UNAVAILABLE with the
 * SQLSTATE in the private detail. GatehouseErrors pass through. Values are never copied into the message.
 *
 * @example
 * try { await pool.query(sql, params); } catch (err) { throw postgresError(err); }
 */
export function postgresError(err: unknown): GatehouseError {
  if (err instanceof GatehouseError) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  if (code === '23505' || code === '40001' || code === '40P01') {
    return new GatehouseError('ERR_STORE_CONFLICT', { detail: `postgres ${code}`, cause: err });
  }
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const reachable = !(NETWORK.has(code) || code.startsWith('08') || /terminat|timeout|connect/i.test(message ?? ''));
  return new GatehouseError('ERR_STORE_UNAVAILABLE', {
    message: reachable ? 'Storage refused the operation' : 'Storage is unavailable',
    detail: `postgres ${code || 'error'}: ${reachable ? code : message}`,
    cause: err,
  });
}
