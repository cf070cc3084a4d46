import type { TLSSocket } from 'node:tls';
import type { Logger } from '../core/index.js';
import type { ClientAuthOptions } from '../http/index.js';
import type { PeerRefusal } from '../pki/index.js';
import type { PlatformCore } from './compose.js';
import { MtlsClientCertificates } from './mtls_client_certificates.js';

/** What a connection presented: no certificate, a refused one (with the reason), or a valid SVID of ours. */
export type PresentedWorkload =
  { kind: 'none' } | { kind: 'refused'; reason: string; spiffeId?: string } | { kind: 'svid'; spiffeId: string };

/**
 * Workload certificates (X.509-SVIDs) as credentials on a platform listener (the KMS API). The listener only requests
 * a client certificate (`requestCert: true, rejectUnauthorized: false`), so browsers and token callers are unaffected;
 * every presented certificate is judged here with the identity mTLS listener's rules ({@link MtlsClientCertificates}:
 * chain to the trust bundle checked by us, SVID rules, deny list). Unlike there, a refused certificate does not close
 * the connection: it is remembered, so that each request on it is answered 401 problem+json
 * (ERR_WORKLOAD_CERTIFICATE_REFUSED) instead of silently being treated as anonymous. Per request the admitted SVID is
 * re-checked against the clock and the deny list. Every 10 s the deny list is reloaded and a changed bundle swapped in.
 *
 * @example
 * const workloads = await WorkloadCertificates.open(core, logger);
 * const server = createHttpsServer({ ..., clientAuth: workloads.clientAuth() });
 * workloads.start(server);
 * const presented = workloads.of(request.raw.socket as TLSSocket); // { kind: 'svid', spiffeId } | ...
 */
export class WorkloadCertificates {
  private readonly refused = new WeakMap<TLSSocket, PeerRefusal>();
  private readonly presented = new WeakSet<TLSSocket>();
  private readonly bundle: string;
  private stopRefresh: (() => void) | undefined;

  private constructor(
    private readonly core: PlatformCore,
    private readonly certificates: MtlsClientCertificates,
    private readonly logger: Logger,
  ) {
    this.bundle = core.authority.trustBundlePem();
  }

  /** Loads the deny list and the trust bundle of the platform CA. */
  static async open(core: PlatformCore, logger: Logger): Promise<WorkloadCertificates> {
    return new WorkloadCertificates(core, await MtlsClientCertificates.forPlatform(core, logger), logger);
  }

  /** The listener's client-certificate options: requested against the bundle, judged here, never refused there. */
  clientAuth(): ClientAuthOptions {
    return {
      ca: this.bundle,
      check: (socket) => {
        this.presented.add(socket);
        const refusal = this.certificates.refusal(socket);
        if (refusal) {
          this.refused.set(socket, refusal);
          this.logger.warn(
            { ...refusal, remote: socket.remoteAddress },
            'client certificate refused; calls on this connection without a credential are answered 401',
          );
        }
        return undefined;
      },
    };
  }

  /** What the request's connection presented, re-checked now. */
  of(socket: TLSSocket): PresentedWorkload {
    const refusal = this.refused.get(socket);
    if (refusal) {
      return {
        kind: 'refused',
        reason: refusal.reason,
        ...(refusal.spiffeId === undefined ? {} : { spiffeId: refusal.spiffeId }),
      };
    }
    const admitted = this.certificates.of(socket);
    if (admitted !== undefined) return { kind: 'svid', spiffeId: admitted.sanUri };
    // Presented, admitted at the handshake, and expired or revoked since (logged by `of`).
    if (this.presented.has(socket)) return { kind: 'refused', reason: 'no_longer_valid' };
    return { kind: 'none' };
  }

  /** Reloads the deny list and swaps a changed trust bundle into `server` every 10 s, until {@link stop}. */
  start(server: { setClientCa(caPem: string): void }): void {
    this.stopRefresh = this.certificates.keepFresh(this.core, server, this.bundle);
  }

  stop(): void {
    this.stopRefresh?.();
    this.stopRefresh = undefined;
  }
}
