import { GatehouseError, isGatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import { trustBundlePem } from './bundle.js';
import { createAuthorityRecord } from './create.js';
import {
  issueListenerCertificate,
  type ListenerCertificate,
  type ListenerCertificateRequest,
} from './listener_certificate.js';
import { loadAuthority, type LoadedAuthority } from './load.js';
import type { SecretVault } from './ports.js';
import { assertTrustDomain } from './spiffe_id.js';
import { AUTHORITY_COLLECTION, AUTHORITY_KEY, type AuthorityRecord } from './state.js';
import { authorityStatus, type AuthorityStatus } from './status.js';

/** What {@link Authority.open} needs. */
export interface AuthorityOptions {
  /** Public CA state (collection `pki_authorities`). */
  store: RecordStore;
  /** Sealed CA private keys. */
  vault: SecretVault;
  clock: Clock;
  trustDomain: string;
  rootTtlMs: number;
  intermediateTtlMs: number;
  /** Status warns when a CA certificate is this close to expiry (default 30 days). */
  expiryWarningMs?: number;
  logger: Logger;
}

const DEFAULT_EXPIRY_WARNING_MS = 30 * 86_400_000;

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: `${name} must be positive` });
  return value;
}

/**
 * The platform's one certificate authority: an ECDSA P-256 root and a name-constrained intermediate, created on first
 * open (keys sealed in the vault, certificates in the record store) and loaded and checked on every later open.
 *
 * @example
 * const ca = await Authority.open({ store, vault, clock, trustDomain: 'gatehouse.local',
 *   rootTtlMs: 3650 * 86_400_000, intermediateTtlMs: 365 * 86_400_000, logger });
 * const listener = await ca.issueListenerCertificate({ component: 'admin', ttlMs: 86_400_000 });
 */
export class Authority {
  private constructor(
    private readonly loaded: LoadedAuthority,
    private readonly clock: Clock,
    private readonly expiryWarningMs: number,
  ) {}

  /**
   * Opens the CA of `trustDomain`, creating it if the store has none. Creation is safe under a race: the record is
   * inserted with an absence precondition, and a process that loses loads the winner's CA (its own freshly sealed
   * keys stay unreferenced in the vault). Throws ERR_PKI_CA_INVALID when the stored CA is inconsistent or expired.
   */
  static async open(options: AuthorityOptions): Promise<Authority> {
    const { store, vault, clock, logger } = options;
    const trustDomain = assertTrustDomain(options.trustDomain);
    const expiryWarningMs = options.expiryWarningMs ?? DEFAULT_EXPIRY_WARNING_MS;
    let stored = await store.get<AuthorityRecord>(AUTHORITY_COLLECTION, AUTHORITY_KEY);
    if (!stored) {
      const record = await createAuthorityRecord({
        trustDomain,
        vault,
        now: clock.now(),
        rootTtlMs: positive('rootTtlMs', options.rootTtlMs),
        intermediateTtlMs: positive('intermediateTtlMs', options.intermediateTtlMs),
      });
      try {
        await store.write([{ op: 'insert', collection: AUTHORITY_COLLECTION, key: AUTHORITY_KEY, value: record }]);
        logger.info(
          { trustDomain, root: record.roots[0]?.serialNumber, intermediate: record.intermediates[0]?.serialNumber },
          'created the certificate authority',
        );
      } catch (err) {
        if (!isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw err;
        logger.info({ trustDomain }, 'another process created the certificate authority first; using it');
      }
      stored = await store.get<AuthorityRecord>(AUTHORITY_COLLECTION, AUTHORITY_KEY);
      if (!stored) throw new GatehouseError('ERR_PKI_CA_INVALID', { detail: 'the CA record vanished after creation' });
    }
    const loaded = await loadAuthority({ record: stored.value, vault, trustDomain, now: clock.now() });
    const authority = new Authority(loaded, clock, expiryWarningMs);
    const { warnings } = authority.status(clock.now());
    if (warnings.length > 0) logger.warn({ trustDomain, warnings }, 'the certificate authority is close to expiry');
    return authority;
  }

  /** The trust domain this CA issues for. */
  get trustDomain(): string {
    return this.loaded.trustDomain;
  }

  /** Issues a certificate for a platform listener; see {@link issueListenerCertificate}. */
  async issueListenerCertificate(request: ListenerCertificateRequest): Promise<ListenerCertificate> {
    const now = this.clock.now();
    if (this.loaded.active.record.notAfter <= now) {
      throw new GatehouseError('ERR_PKI_CA_INVALID', { detail: 'the active intermediate has expired' });
    }
    const issuer = { certificate: this.loaded.active.certificate, privateKey: this.loaded.active.privateKey };
    return issueListenerCertificate(issuer, this.loaded.trustDomain, request, now);
  }

  /** Roots plus the intermediates still valid now, as PEM (the content of `trust-bundle.pem`). */
  trustBundlePem(): string {
    return trustBundlePem(this.loaded, this.clock.now());
  }

  /** Root and active intermediate: subjects, validity, days left, expiry warnings. */
  status(now: number = this.clock.now()): AuthorityStatus {
    return authorityStatus(this.loaded, now, this.expiryWarningMs);
  }
}
