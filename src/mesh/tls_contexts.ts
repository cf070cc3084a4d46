import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import { clientTlsOptions, serverTlsOptions } from '../crypto/index.js';
import type { SvidMaterial, TrustBundle } from './ports.js';

/** Longest TLS session lifetime (the Node default). */
const MAX_SESSION_SECONDS = 300;

/**
 * How long a TLS session may be resumed: inside the renewal margin of the certificate (a resumed session carries the
 * peer certificate of its first handshake), at most 300 s, at least 1 s.
 *
 * @example
 * sessionLifetimeSeconds(svid, 2 / 3); // 300 for a 24 h SVID
 */
export function sessionLifetimeSeconds(material: SvidMaterial, renewAtFraction: number): number {
  const margin = (material.notAfter - material.issuedAt) * (1 - renewAtFraction);
  return Math.max(1, Math.min(MAX_SESSION_SECONDS, Math.floor(margin / 1000)));
}

/**
 * Server options for an mTLS listener: TLS 1.3 only, the SVID chain and key, the bundle as the only trust anchors,
 * a client certificate requested but NOT enforced by OpenSSL (`rejectUnauthorized: false`: under TLS 1.3 that would
 * reject silently), the fixed ticket keys and a session lifetime inside the renewal margin.
 *
 * @example
 * server.setSecureContext(meshServerOptions(svid, bundle, keys.current, 300));
 */
export function meshServerOptions(
  material: SvidMaterial,
  bundle: TrustBundle,
  ticketKeys: Buffer,
  sessionTimeoutSeconds: number,
): TlsOptions {
  return {
    ...serverTlsOptions({
      cert: material.chainPem,
      key: material.keyPem,
      ca: bundle.pem,
      requestCert: true,
      ticketKeys,
    }),
    rejectUnauthorized: false,
    sessionTimeout: sessionTimeoutSeconds,
  };
}

/**
 * Client SecureContexts, built once per certificate generation and bundle sequence (building one per connection
 * re-parses the PEM and halves throughput).
 *
 * @example
 * const contexts = new ClientContexts();
 * tls.connect({ host, port, secureContext: contexts.context(identity.current, identity.bundle) });
 */
export class ClientContexts {
  private cached: { key: string; context: SecureContext } | undefined;

  context(material: SvidMaterial, bundle: TrustBundle): SecureContext {
    const key = `${material.generation}:${bundle.sequence}:${bundle.pem.length}`;
    if (this.cached?.key !== key) {
      const options = clientTlsOptions({ ca: bundle.pem, cert: material.chainPem, key: material.keyPem });
      this.cached = { key, context: createSecureContext(options) };
    }
    return this.cached.context;
  }
}
