import type { TLSSocket } from 'node:tls';
import { FailureStreak, type Clock, type Logger } from '../core/index.js';
import { sha256Base64url } from '../crypto/index.js';
import type { PresentedCertificate } from '../identity/index.js';
import {
  isDenied,
  Revocations,
  untrustedChain,
  validateSvid,
  type PeerRefusal,
  type RevokedIdentity,
} from '../pki/index.js';
import type { PlatformCore } from './compose.js';

/** How often a platform listener reloads the deny list and looks for a changed trust bundle. */
const REFRESH_MS = 10_000;

/** A client certificate admitted at the handshake: what each request on that connection re-checks and uses. */
interface AdmittedPeer {
  spiffeId: string;
  thumbprint: string;
  notBefore: number;
  notAfter: number;
}

/**
 * Client certificates of the identity issuer's mTLS listener. At the handshake (`refusal`, the listener's
 * `secureConnection` check) a presented certificate must chain to the trust bundle (`socket.authorized`: Node over
 * TLS 1.3 never refuses a bad chain on its own, openssl/openssl#8500), be a valid X.509-SVID of the trust domain now,
 * and not be on the deny list; otherwise the connection is closed with a logged reason, the CA listener's rules.
 * Connections without a certificate are admitted (client_secret and private_key_jwt clients may use the aliases; their
 * tokens stay unbound). Per request (`of`) the admitted certificate is re-checked against the clock and the deny list
 * (keep-alive connections outlive certificates) and handed to identity as its thumbprint and SPIFFE ID.
 *
 * @example
 * const certificates = new MtlsClientCertificates({ trustDomain, revocations, clock, logger });
 * createHttpsServer({ ..., clientAuth: { ca: bundlePem, check: (socket) => certificates.refusal(socket) } });
 * const presented = certificates.of(request.raw.socket as TLSSocket);
 */
export class MtlsClientCertificates {
  private readonly admitted = new WeakMap<TLSSocket, AdmittedPeer>();
  private denied: readonly RevokedIdentity[] = [];

  constructor(private readonly deps: { trustDomain: string; revocations: Revocations; clock: Clock; logger: Logger }) {}

  /** The judge of a platform listener's client certificates: the platform CA's trust domain, its deny list loaded. */
  static async forPlatform(core: PlatformCore, logger: Logger): Promise<MtlsClientCertificates> {
    const { authority, clock } = core;
    const certificates = new MtlsClientCertificates({
      trustDomain: authority.trustDomain,
      revocations: new Revocations(core.records, clock, authority.maxSvidTtlMs),
      clock,
      logger,
    });
    await certificates.refreshDenyList();
    return certificates;
  }

  /**
   * Every 10 s reloads the deny list and swaps the platform CA's trust bundle into `server` when it differs from the
   * one it last had (`bundle` at first). Returns the function that stops it.
   *
   * @example
   * const stop = certificates.keepFresh(core, server, core.authority.trustBundlePem());
   */
  keepFresh(core: PlatformCore, server: { setClientCa(caPem: string): void }, bundle: string): () => void {
    const { authority } = core;
    const { logger, clock } = this.deps;
    let current = bundle;
    const refresh = async (): Promise<void> => {
      await this.refreshDenyList();
      const pem = authority.trustBundlePem();
      if (pem !== current) {
        current = pem;
        server.setClientCa(pem);
        logger.info({ bundleSequence: authority.bundleSequence }, 'trust bundle changed; client CA swapped');
      }
    };
    const streak = new FailureStreak({ loop: 'client certificate refresh', clock, logger, level: 'error' });
    const timer = setInterval(() => void streak.run(refresh), REFRESH_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Reloads the deny list from the store (revocations made by the CA on any replica). */
  async refreshDenyList(): Promise<void> {
    this.denied = await this.deps.revocations.denyList();
  }

  /** The handshake check: a refusal (connection closed and logged) or undefined (admitted). */
  refusal(socket: TLSSocket): PeerRefusal | undefined {
    const der = socket.getPeerCertificate().raw as Buffer | undefined;
    if (der === undefined || der.length === 0) return undefined;
    const { trustDomain, clock } = this.deps;
    if (!socket.authorized) {
      return untrustedChain(der, trustDomain, clock.now(), String(socket.authorizationError ?? 'unknown'));
    }
    const verdict = validateSvid(der, { trustDomain, now: clock.now() });
    if (!verdict.valid) return { reason: verdict.reason };
    if (isDenied(this.denied, verdict.spiffeId, verdict.notBefore)) {
      return { reason: 'revoked', spiffeId: verdict.spiffeId };
    }
    this.admitted.set(socket, {
      spiffeId: verdict.spiffeId,
      thumbprint: sha256Base64url(der),
      notBefore: verdict.notBefore,
      notAfter: verdict.notAfter,
    });
    return undefined;
  }

  /** The connection's certificate for a request, or undefined (none, or no longer valid: logged). */
  of(socket: TLSSocket): PresentedCertificate | undefined {
    const peer = this.admitted.get(socket);
    if (peer === undefined) return undefined;
    const now = this.deps.clock.now();
    const expired = now >= peer.notAfter || now < peer.notBefore;
    if (expired || isDenied(this.denied, peer.spiffeId, peer.notBefore)) {
      this.admitted.delete(socket);
      this.deps.logger.warn(
        { spiffeId: peer.spiffeId, reason: expired ? 'expired' : 'revoked', remote: socket.remoteAddress },
        'client certificate no longer valid on an open connection; requests on it are treated as without one',
      );
      return undefined;
    }
    return { thumbprint: peer.thumbprint, sanUri: peer.spiffeId };
  }
}
