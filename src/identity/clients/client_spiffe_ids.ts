import { GatehouseError } from '../../core/index.js';

/** At most this many SPIFFE IDs per client. */
export const MAX_CLIENT_SPIFFE_IDS = 20;

const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

const invalid = (message: string) => new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', { message });

/**
 * Checks the SPIFFE IDs a client may hold (enrollment at the CA with its access token): each a workload ID of our
 * trust domain, `spiffe://<trustDomain>/ns/<namespace>/sa/<name>` (segments of `[A-Za-z0-9._-]`, not `.`/`..`), no
 * duplicates, at most {@link MAX_CLIENT_SPIFFE_IDS}. The same shape the CA signs (identity cannot import pki).
 * Throws ERR_IDENTITY_CLIENT_INVALID.
 *
 * @example
 * checkClientSpiffeIds(['spiffe://gatehouse.local/ns/demo/sa/orders'], 'gatehouse.local');
 */
export function checkClientSpiffeIds(ids: readonly string[], trustDomain: string | undefined): string[] {
  if (ids.length === 0) return [];
  if (trustDomain === undefined) throw invalid('SPIFFE IDs need the platform trust domain (not configured here)');
  if (ids.length > MAX_CLIENT_SPIFFE_IDS) throw invalid(`at most ${MAX_CLIENT_SPIFFE_IDS} SPIFFE IDs`);
  if (new Set(ids).size !== ids.length) throw invalid('SPIFFE ID lists a value twice');
  const prefix = `spiffe://${trustDomain}/`;
  for (const id of ids) {
    const segments = typeof id === 'string' && id.startsWith(prefix) ? id.slice(prefix.length).split('/') : [];
    const shaped =
      segments.length === 4 &&
      segments[0] === 'ns' &&
      segments[2] === 'sa' &&
      [segments[1], segments[3]].every((s) => s !== undefined && SEGMENT.test(s) && s !== '.' && s !== '..');
    if (!shaped) {
      throw invalid(`SPIFFE ID ${JSON.stringify(id)} is not spiffe://${trustDomain}/ns/<namespace>/sa/<name>`);
    }
  }
  return [...ids];
}
