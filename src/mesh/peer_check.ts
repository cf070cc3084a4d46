import type { PeerCertificate } from 'node:tls';
import type { Clock } from '../core/index.js';
import { sha256Base64url } from '../crypto/index.js';
import { isDenied, validateSvid, type RevokedIdentity, type SvidRejection } from '../pki/index.js';

/** A verified peer: its SPIFFE ID and the certificate facts re-checked on every connection and request. */
export interface PeerIdentity {
  spiffeId: string;
  /** base64url SHA-256 of the leaf DER (like `x5t#S256`). */
  fingerprint: string;
  notBefore: number;
  notAfter: number;
  serialNumber: string;
}

/** Why a peer is refused (logged with the connection). */
export type PeerRejection = 'no_certificate' | 'untrusted_chain' | 'revoked' | 'unexpected_identity' | SvidRejection;

/** The verdict of {@link PeerChecker.check}. */
export type PeerVerdict =
  { ok: true; peer: PeerIdentity } | { ok: false; reason: PeerRejection; spiffeId?: string; tlsError?: string };

/**
 * What the check reads of a peer certificate: the object of Node's `getPeerCertificate()` (`{}` when the peer sent
 * none) or any object with the leaf DER.
 */
export interface PeerCertificateFacts {
  /** The leaf certificate, DER. */
  raw?: Buffer;
  /**
   * Node's SHA-256 fingerprint of `raw` (colon-separated hex), which `getPeerCertificate()` has already computed: used
   * as the cache key, so the DER is not hashed a second time on every connection. Without it the DER is hashed here.
   */
  fingerprint256?: string;
}

const CACHE_LIMIT = 1024;

/**
 * Our own peer check, run on EVERY connection (resumed ones too: a resumed session carries the certificate of its
 * first handshake): the chain verified by TLS against the bundle, every X.509-SVID rule, the trust domain, the
 * validity at this instant, the deny list, and optionally the expected SPIFFE ID. The SVID parse is cached by
 * SHA-256 fingerprint; time and deny list are checked every call.
 *
 * @example
 * const checker = new PeerChecker({ trustDomain, clock, denyList: () => identity.denyList });
 * const verdict = checker.check(socket.getPeerCertificate(), socket.authorized, socket.authorizationError);
 */
export class PeerChecker {
  private readonly parsed = new Map<string, PeerIdentity | SvidRejection>();

  constructor(
    private readonly options: {
      trustDomain: string;
      clock: Clock;
      denyList: () => readonly RevokedIdentity[];
    },
  ) {}

  check(
    cert: PeerCertificateFacts | undefined,
    authorized: boolean,
    authorizationError?: Error | string | null,
    expected?: (spiffeId: string) => boolean,
  ): PeerVerdict {
    const der = cert?.raw;
    if (!der || der.length === 0) return { ok: false, reason: 'no_certificate' };
    if (!authorized) {
      // The chain is judged first, and an untrusted leaf never enters the cache. It is read only to name the SPIFFE
      // ID it claims in the log line (validateSvid never throws: garbage bytes are just `malformed`).
      const claimed = validateSvid(der, { trustDomain: this.options.trustDomain, now: Number.NaN });
      return {
        ok: false,
        reason: 'untrusted_chain',
        tlsError: String(authorizationError ?? 'unknown'),
        ...(claimed.valid ? { spiffeId: claimed.spiffeId } : {}),
      };
    }
    const parsed = this.parse(der, cert.fingerprint256);
    if (typeof parsed === 'string') return { ok: false, reason: parsed };
    return this.recheck(parsed, expected);
  }

  /** Re-checks a peer already admitted (time, deny list, expected identity): per request on long connections. */
  recheck(peer: PeerIdentity, expected?: (spiffeId: string) => boolean): PeerVerdict {
    const now = this.options.clock.now();
    if (peer.notBefore > now) return { ok: false, reason: 'not_yet_valid', spiffeId: peer.spiffeId };
    if (peer.notAfter <= now) return { ok: false, reason: 'expired', spiffeId: peer.spiffeId };
    if (isDenied(this.options.denyList(), peer.spiffeId, peer.notBefore)) {
      return { ok: false, reason: 'revoked', spiffeId: peer.spiffeId };
    }
    if (expected && !expected(peer.spiffeId)) {
      return { ok: false, reason: 'unexpected_identity', spiffeId: peer.spiffeId };
    }
    return { ok: true, peer };
  }

  /**
   * A `checkServerIdentity` for tls.connect: Node no longer matches URI SANs (CVE-2021-44531), so the server's SVID
   * is checked here, the host name ignored.
   */
  serverIdentity(expected: (spiffeId: string) => boolean): (host: string, cert: PeerCertificate) => Error | undefined {
    return (_host, cert) => {
      // Node calls this only once the chain has verified, and outside any try: a throw here would end the process, so
      // an unexpected one becomes a refusal like any other.
      let reason: string;
      try {
        const verdict = this.check(cert, true, null, expected);
        if (verdict.ok) return undefined;
        reason = verdict.reason;
      } catch {
        reason = 'malformed';
      }
      const err = new Error(`server SVID refused: ${reason}`) as Error & { code: string; reason: string };
      err.code = 'ERR_MESH_PEER_REFUSED';
      err.reason = reason;
      return err;
    };
  }

  private parse(der: Buffer, nodeFingerprint: string | undefined): PeerIdentity | SvidRejection {
    // The key is a SHA-256 of the DER either way: Node's colon-separated hex when the caller has it (getPeerCertificate()
    // computes it anyway; hashing the DER again cost 8-15 us per new connection, measured with perf under the
    // mesh_handshakes load and in process), else base64url. The two forms cannot be confused (only Node's has colons).
    const key = nodeFingerprint || sha256Base64url(der);
    const hit = this.parsed.get(key);
    if (hit !== undefined) return hit;
    // The structural SVID rules only (every comparison with NaN is false, so no time check here): validity is
    // checked at each use in recheck(), so a cached entry never outlives its certificate.
    const verdict = validateSvid(der, { trustDomain: this.options.trustDomain, now: Number.NaN });
    if (!verdict.valid) return verdict.reason;
    const { spiffeId, notBefore, notAfter, serialNumber } = verdict;
    const fingerprint = key === nodeFingerprint ? sha256Base64url(der) : key;
    const peer: PeerIdentity = { spiffeId, fingerprint, notBefore, notAfter, serialNumber };
    if (this.parsed.size >= CACHE_LIMIT) this.parsed.clear();
    this.parsed.set(key, peer);
    return peer;
  }
}

/**
 * A matcher for an expected SPIFFE ID: exact string, or any of a list.
 *
 * @example
 * const expected = expectSpiffeId('spiffe://gatehouse.local/ns/demo/sa/backend');
 */
export function expectSpiffeId(ids: string | readonly string[]): (spiffeId: string) => boolean {
  const set = new Set(typeof ids === 'string' ? [ids] : ids);
  return (spiffeId) => set.has(spiffeId);
}
