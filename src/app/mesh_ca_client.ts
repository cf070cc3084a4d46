import { X509Certificate } from 'node:crypto';
import { GatehouseError, type Clock } from '../core/index.js';
import type { CertificateAuthorityClient, IssuedCertificate, SvidMaterial, TrustBundle } from '../mesh/index.js';
import { validateSvid, type Authority, type IssuedSvid, type Revocations, type RevokedIdentity } from '../pki/index.js';

function issued(svid: IssuedSvid): IssuedCertificate {
  return {
    spiffeId: svid.spiffeId,
    chainPem: svid.chainPem,
    serialNumber: svid.serialNumber,
    notBefore: svid.notBefore,
    notAfter: svid.notAfter,
  };
}

/**
 * The mesh's CA client in the same process as the Authority (the demo mesh of `gatehouse up`, tests): sign for a
 * bootstrap credential resolved by `redeem` (e.g. JoinTokens.consume) unless its identity is on the deny list, renew
 * for a current SVID that is still valid and not revoked, bundle and deny list straight from the CA state.
 *
 * @example
 * const client = new InProcessCaClient({ authority, revocations, clock, redeem: (t) => joinTokens.consume(t) });
 */
export class InProcessCaClient implements CertificateAuthorityClient {
  /** Set to make every call fail (tests: "the CA is down"). */
  down = false;

  constructor(
    private readonly deps: {
      authority: Authority;
      revocations: Revocations;
      clock: Clock;
      /** Turns a bootstrap credential into the SPIFFE ID it entitles (throws when invalid). */
      redeem: (credential: string) => Promise<string>;
      /** Lifetime asked for (default: the CA's SVID lifetime). */
      ttlMs?: number;
      refreshHintMs?: number;
    },
  ) {}

  async sign(csrPem: string, credential: string): Promise<IssuedCertificate> {
    this.check();
    const spiffeId = await this.deps.redeem(credential);
    await this.deps.revocations.assertEnrollable(spiffeId);
    return issued(this.deps.authority.issueSvid({ csrPem, spiffeId, ...this.ttl() }));
  }

  async renew(csrPem: string, current: SvidMaterial): Promise<IssuedCertificate> {
    this.check();
    const { authority, revocations, clock } = this.deps;
    const leaf = new X509Certificate(current.chainPem).raw;
    const verdict = validateSvid(leaf, { trustDomain: authority.trustDomain, now: clock.now() });
    if (!verdict.valid) {
      throw new GatehouseError('ERR_PKI_UNAUTHENTICATED', { detail: `client SVID refused: ${verdict.reason}` });
    }
    if (await revocations.isRevoked(verdict.spiffeId, verdict.notBefore)) throw new GatehouseError('ERR_PKI_REVOKED');
    return issued(authority.issueSvid({ csrPem, spiffeId: verdict.spiffeId, ...this.ttl() }));
  }

  async bundle(): Promise<TrustBundle> {
    this.check();
    const { authority } = this.deps;
    return {
      pem: authority.trustBundlePem(),
      sequence: authority.bundleSequence,
      refreshHintMs: this.deps.refreshHintMs ?? 300_000,
    };
  }

  async denyList(): Promise<RevokedIdentity[]> {
    this.check();
    return this.deps.revocations.denyList();
  }

  private ttl(): { ttlMs?: number } {
    return this.deps.ttlMs === undefined ? {} : { ttlMs: this.deps.ttlMs };
  }

  private check(): void {
    if (this.down) throw new GatehouseError('ERR_MESH_UPSTREAM_FAILED', { detail: 'CA unreachable (test switch)' });
  }
}
