import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { x509 } from './x509.js';

/** A SPIFFE trust bundle (SPIFFE Trust Domain and Bundle §4): a JWK Set plus sequence and refresh hint. */
export interface SpiffeBundle {
  keys: Array<JsonWebKey & { use: 'x509-svid'; x5c: [string] }>;
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

/**
 * The SPIFFE bundle of a set of CA certificates: one JWK per certificate with `use: "x509-svid"`, the public key
 * members, `x5c` holding exactly that one DER certificate, and no `kid`.
 *
 * @example
 * spiffeBundle(authorities, 7, 300); // { keys: [{ use: 'x509-svid', kty: 'EC', crv: 'P-256', x, y, x5c: [...] }], ... }
 */
export function spiffeBundle(
  authorities: readonly x509.X509Certificate[],
  sequence: number,
  refreshHintSeconds: number,
): SpiffeBundle {
  return {
    keys: authorities.map((cert) => {
      const der = Buffer.from(cert.rawData);
      const jwk = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' }).export({
        format: 'jwk',
      });
      return { use: 'x509-svid' as const, ...jwk, x5c: [der.toString('base64')] as [string] };
    }),
    spiffe_sequence: sequence,
    spiffe_refresh_hint: refreshHintSeconds,
  };
}
