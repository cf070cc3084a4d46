import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import type { Authority } from './authority.js';
import { csrPemToDer, verifyCsr } from './csr.js';
import type { CreatedJoinToken, JoinTokens } from './join_tokens.js';
import type { BootstrapTokenVerifier } from './ports.js';
import { isDenied, type Revocations, type RevokedIdentity } from './revocation.js';
import { assertWorkloadDnsNames } from './dns_policy.js';
import { parseWorkloadSpiffeId } from './spiffe_id.js';
import { validateSvid, type SvidRejection } from './svid.js';
import type { IssuedSvid } from './svid_request.js';

/** Why a peer's client certificate is refused at the TLS layer (logged with the connection). */
export interface PeerRefusal {
  reason: 'untrusted_chain' | 'revoked' | SvidRejection;
  /** Node's `authorizationError` when the chain did not verify. */
  tlsError?: string;
  /** What the SVID rules say about the leaf, when the chain failed too (e.g. another trust domain). */
  svid?: string;
  spiffeId?: string;
}

/** What a CSR-bearing request carries besides its credential. */
export interface SignInput {
  csrPem: string;
  /** Required with an access token; optional with a join token (must then match it). */
  spiffeId?: string;
  dnsNames?: readonly string[];
  ttlMs?: number;
}

const DENY_LIST_REFRESH_MS = 5_000;

/**
 * The refusal of a client certificate whose chain did not verify (`socket.authorized` false), judged before anything
 * else. The leaf is then read only to say in the log line what it claims (`svid`, `spiffeId`: e.g. another trust
 * domain under our intermediate, where Node only says `UNSPECIFIED`); validateSvid never throws, so garbage bytes
 * there are just `svid: "malformed"`.
 *
 * @example
 * if (!socket.authorized) return untrustedChain(der, trustDomain, clock.now(), String(socket.authorizationError));
 */
export function untrustedChain(
  peerDer: Buffer,
  trustDomain: string,
  now: number,
  authorizationError: string | undefined,
): PeerRefusal {
  const claimed = validateSvid(peerDer, { trustDomain, now });
  return {
    reason: 'untrusted_chain',
    tlsError: authorizationError ?? 'unknown',
    svid: claimed.valid ? 'ok' : claimed.reason,
    ...(claimed.valid ? { spiffeId: claimed.spiffeId } : {}),
  };
}

/**
 * The CA's enrollment service: signs SVIDs for bootstrap credentials (one-time join token, or an access token from
 * our identity server through the {@link BootstrapTokenVerifier} port; neither for an identity on the deny list),
 * renews them for a peer that proves the current SVID over mTLS (refused once revoked or expired), and judges
 * presented client certificates for the listener.
 *
 * @example
 * const enrollment = new Enrollment({ authority, joinTokens, revocations, clock, logger });
 * const svid = await enrollment.signWithJoinToken({ csrPem }, token);
 */
export class Enrollment {
  private denied: RevokedIdentity[] = [];
  private deniedAt = -Infinity;

  constructor(
    private readonly deps: {
      authority: Authority;
      joinTokens: JoinTokens;
      revocations: Revocations;
      /** Unset until the identity module provides it: access tokens are then refused with a clear error. */
      bootstrap?: BootstrapTokenVerifier;
      /** `pki.allowedDnsNames`: the DNS names (exact or `*.suffix`) workloads may ask for; unset: any but the refused. */
      allowedDnsNames?: readonly string[];
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /** Signs for the SPIFFE ID the join token is bound to, consuming the token (single use). */
  async signWithJoinToken(input: SignInput, joinToken: string): Promise<IssuedSvid> {
    const { authority, joinTokens, logger } = this.deps;
    // Whatever can be refused is refused before the token is used up: a bad request does not burn it.
    verifyCsr(csrPemToDer(input.csrPem));
    if (input.spiffeId !== undefined) parseWorkloadSpiffeId(input.spiffeId, authority.trustDomain);
    assertWorkloadDnsNames(input.dnsNames ?? [], this.deps.allowedDnsNames);
    if (input.ttlMs !== undefined && (!Number.isSafeInteger(input.ttlMs) || input.ttlMs < 60_000)) {
      throw new GatehouseError('ERR_PKI_NAME_INVALID', { message: 'Invalid certificate lifetime (at least 1m)' });
    }
    // A revoked identity cannot enroll again while its deny-list entry lives; refused before the token is used up.
    // So is a `spiffe_id` other than the token's: a workload configured with the wrong ID (a typo) keeps its token.
    const { revocations } = this.deps;
    const spiffeId = await joinTokens.consume(joinToken, async (id) => {
      if (input.spiffeId !== undefined && input.spiffeId !== id) {
        throw new GatehouseError('ERR_PKI_FORBIDDEN', {
          message: 'The join token is bound to another SPIFFE ID than spiffe_id',
          detail: 'join token bound to another SPIFFE ID',
        });
      }
      await revocations.assertEnrollable(id);
    });
    // Again after the token is used up: a revocation that committed while it was being consumed (another replica)
    // refuses now; one that commits after this check predates the certificate's issuance and denies it.
    await revocations.assertEnrollable(spiffeId);
    const svid = authority.issueSvid({ ...this.request(input), spiffeId });
    logger.info({ spiffeId, serial: svid.serialNumber, credential: 'join_token' }, 'SVID issued');
    return svid;
  }

  /** Signs for `input.spiffeId` when the access token's client may hold it. */
  async signWithAccessToken(input: SignInput, accessToken: string): Promise<IssuedSvid> {
    const { authority, bootstrap, logger } = this.deps;
    if (!bootstrap) throw new GatehouseError('ERR_PKI_BOOTSTRAP_UNAVAILABLE');
    if (input.spiffeId === undefined) {
      throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: 'Invalid request: spiffe_id is required' });
    }
    const spiffeId = parseWorkloadSpiffeId(input.spiffeId, authority.trustDomain).id;
    assertWorkloadDnsNames(input.dnsNames ?? [], this.deps.allowedDnsNames);
    const grant = await bootstrap.verify(accessToken);
    if (!grant.allowedSpiffeIds.includes(spiffeId)) {
      throw new GatehouseError('ERR_PKI_FORBIDDEN', { detail: `client ${grant.clientId} may not hold ${spiffeId}` });
    }
    await this.deps.revocations.assertEnrollable(spiffeId);
    const svid = authority.issueSvid({ ...this.request(input), spiffeId });
    logger.info(
      { spiffeId, serial: svid.serialNumber, credential: 'access_token', clientId: grant.clientId },
      'SVID issued',
    );
    return svid;
  }

  /**
   * Renews the SVID the peer presented over mTLS (`peerDer`, already chain-verified by TLS): same SPIFFE ID and DNS
   * names, a new key from the CSR. Refused when the certificate is not a valid SVID now, or its identity was revoked
   * after it was issued.
   */
  async renew(input: Omit<SignInput, 'spiffeId' | 'dnsNames'>, peerDer: Buffer): Promise<IssuedSvid> {
    const { authority, revocations, clock, logger } = this.deps;
    const verdict = validateSvid(peerDer, { trustDomain: authority.trustDomain, now: clock.now() });
    if (!verdict.valid) {
      throw new GatehouseError('ERR_PKI_UNAUTHENTICATED', { detail: `client SVID refused: ${verdict.reason}` });
    }
    if (await revocations.isRevoked(verdict.spiffeId, verdict.notBefore)) {
      throw new GatehouseError('ERR_PKI_REVOKED', { detail: `${verdict.spiffeId} is revoked` });
    }
    const csr = verifyCsr(csrPemToDer(input.csrPem));
    const current = new NodeX509Certificate(peerDer);
    if (csr.spkiDer.equals(current.publicKey.export({ type: 'spki', format: 'der' }))) {
      throw new GatehouseError('ERR_PKI_CSR_INVALID', { message: 'Renewal needs a new key pair' });
    }
    const dnsNames = (current.subjectAltName ?? '')
      .split(', ')
      .filter((name) => name.startsWith('DNS:'))
      .map((name) => name.slice(4));
    // The names are checked again: a certificate issued before a name was refused (or the allow list narrowed) does
    // not carry it forward.
    assertWorkloadDnsNames(dnsNames, this.deps.allowedDnsNames);
    const svid = authority.issueSvid({ ...this.request(input), spiffeId: verdict.spiffeId, dnsNames });
    logger.info({ spiffeId: svid.spiffeId, serial: svid.serialNumber, previous: verdict.serialNumber }, 'SVID renewed');
    return svid;
  }

  /**
   * The SPIFFE ID of a client certificate that is a valid SVID of this trust domain now (the key of the per-identity
   * renewal limit); undefined otherwise ({@link renew} then refuses it).
   */
  peerSpiffeId(peerDer: Buffer): string | undefined {
    const { authority, clock } = this.deps;
    const verdict = validateSvid(peerDer, { trustDomain: authority.trustDomain, now: clock.now() });
    return verdict.valid ? verdict.spiffeId : undefined;
  }

  /**
   * Judges a client certificate presented on the CA listener (synchronously, for the TLS `secureConnection` hook): an
   * unverified chain, an invalid SVID or a denied identity is refused with a reason; `undefined` accepts.
   */
  peerRefusal(peerDer: Buffer, authorized: boolean, authorizationError?: string): PeerRefusal | undefined {
    const { authority, clock } = this.deps;
    if (!authorized) return untrustedChain(peerDer, authority.trustDomain, clock.now(), authorizationError);
    const verdict = validateSvid(peerDer, { trustDomain: authority.trustDomain, now: clock.now() });
    if (!verdict.valid) return { reason: verdict.reason };
    if (isDenied(this.denied, verdict.spiffeId, verdict.notBefore))
      return { reason: 'revoked', spiffeId: verdict.spiffeId };
    return undefined;
  }

  /** Creates a one-time join token for a workload SPIFFE ID of this trust domain (not for a revoked one). */
  async createJoinToken(spiffeId: string, ttlMs: number): Promise<CreatedJoinToken> {
    const { joinTokens, revocations } = this.deps;
    const id = parseWorkloadSpiffeId(spiffeId, this.deps.authority.trustDomain).id;
    await revocations.assertEnrollable(id);
    const created = await joinTokens.create(id, ttlMs);
    try {
      // A revocation that committed while the token was written voided the tokens it found, not this one.
      await revocations.assertEnrollable(id);
    } catch (err) {
      await joinTokens.voidFor(id);
      throw err;
    }
    return created;
  }

  /**
   * Revokes an identity, voids the join tokens outstanding for it (they would otherwise enroll it again once the
   * deny-list entry expires) and refreshes the cached deny list at once.
   */
  async revoke(spiffeId: string): Promise<RevokedIdentity> {
    const entry = await this.deps.revocations.revoke(
      parseWorkloadSpiffeId(spiffeId, this.deps.authority.trustDomain).id,
    );
    const voidedJoinTokens = await this.deps.joinTokens.voidFor(entry.spiffeId);
    this.deps.logger.warn({ spiffeId: entry.spiffeId, voidedJoinTokens }, 'identity revoked');
    await this.refreshDenyList(true);
    return entry;
  }

  /** The deny list (cached for a few seconds; `force` reloads it from the store). */
  async refreshDenyList(force = false): Promise<RevokedIdentity[]> {
    const now = this.deps.clock.now();
    if (force || now - this.deniedAt >= DENY_LIST_REFRESH_MS || now < this.deniedAt) {
      this.denied = await this.deps.revocations.denyList();
      this.deniedAt = now;
    }
    return this.denied;
  }

  private request(input: Omit<SignInput, 'spiffeId'>): {
    csrPem: string;
    dnsNames?: readonly string[];
    ttlMs?: number;
  } {
    return {
      csrPem: input.csrPem,
      ...(input.dnsNames ? { dnsNames: input.dnsNames } : {}),
      ...(input.ttlMs === undefined ? {} : { ttlMs: input.ttlMs }),
    };
  }
}
