import { GatehouseError, isGatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import { trustBundlePem } from './bundle.js';
import { createAuthorityRecord } from './create.js';
import {
  issueListenerCertificate,
  type ListenerCertificate,
  type ListenerCertificateRequest,
} from './listener_certificate.js';
import { replaceExpiredIntermediate } from './expired_intermediate.js';
import { loadAuthority, type LoadedAuthority } from './load.js';
import type { SecretVault } from './ports.js';
import { rotationSteps, type RotationPolicy } from './rotation.js';
import { applyRotationStep } from './rotation_apply.js';
import { spiffeBundle, type SpiffeBundle } from './spiffe_bundle.js';
import { assertTrustDomain } from './spiffe_id.js';
import { AUTHORITY_COLLECTION, AUTHORITY_KEY, type AuthorityRecord } from './state.js';
import { authorityStatus, type AuthorityStatus } from './status.js';
import { issueSvidFromCsr, type IssuedSvid, type SvidRequest } from './svid_request.js';

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
  /** Default SVID lifetime (24 h). */
  svidTtlMs?: number;
  /** Longest SVID lifetime a caller may ask for (24 h). */
  maxSvidTtlMs?: number;
  /** Longest lifetime of any leaf, listener certificates included (default maxSvidTtlMs): decides CA retirement. */
  maxLeafTtlMs?: number;
  /** CA rotation: time a prepared intermediate is published in the bundle before it signs (24 h). */
  activationDelayMs?: number;
  logger: Logger;
}

const DEFAULT_EXPIRY_WARNING_MS = 30 * 86_400_000;
const DAY_MS = 86_400_000;

/** What a rotation pass did. */
export interface RotationResult {
  steps: string[];
  bundleSequence: number;
}

function rotationPolicy(options: AuthorityOptions): RotationPolicy {
  const maxSvidTtlMs = options.maxSvidTtlMs ?? DAY_MS;
  return {
    maxLeafTtlMs: options.maxLeafTtlMs ?? maxSvidTtlMs,
    activationDelayMs: options.activationDelayMs ?? DAY_MS,
    prepareAtFraction: 0.5,
  };
}

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
    private loaded: LoadedAuthority,
    private record: { value: AuthorityRecord; version: number },
    private readonly clock: Clock,
    private readonly expiryWarningMs: number,
    private readonly options: AuthorityOptions,
  ) {}

  private get lifetimes(): { defaultTtlMs: number; maxTtlMs: number } {
    const maxTtlMs = this.options.maxSvidTtlMs ?? DAY_MS;
    return { defaultTtlMs: Math.min(this.options.svidTtlMs ?? DAY_MS, maxTtlMs), maxTtlMs };
  }

  private get policy(): RotationPolicy {
    return rotationPolicy(this.options);
  }

  /**
   * Opens the CA of `trustDomain`, creating it if the store has none. Creation is safe under a race: the record is
   * inserted with an absence precondition, and a process that loses loads the winner's CA (its own freshly sealed
   * keys stay unreferenced in the vault). An active intermediate that expired while no rotation ran is replaced by a
   * new one under the root when the root is valid and its key held (warn line `ca_intermediate_replaced`). Throws
   * ERR_PKI_CA_INVALID when the stored CA is inconsistent or expired beyond that (an expired root).
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
    // An intermediate that expired while the CA was stopped is replaced under a valid root (loudly), not a dead end.
    stored = await replaceExpiredIntermediate({
      store,
      vault,
      stored,
      now: clock.now(),
      policy: rotationPolicy(options),
      intermediateTtlMs: positive('intermediateTtlMs', options.intermediateTtlMs),
      logger,
    });
    const loaded = await loadAuthority({ record: stored.value, vault, trustDomain, now: clock.now() });
    const authority = new Authority(
      loaded,
      { value: stored.value, version: stored.version },
      clock,
      expiryWarningMs,
      options,
    );
    const { warnings, notices } = authority.status(clock.now());
    if (warnings.length > 0) logger.warn({ trustDomain, warnings }, 'the certificate authority is close to expiry');
    if (notices.length > 0) logger.info({ trustDomain, notices }, 'CA rotation is scheduled');
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

  /**
   * Signs an X.509-SVID for a CSR; see {@link issueSvidFromCsr}. The caller has authorized `spiffeId` (join token,
   * access token or the mTLS certificate being renewed).
   */
  issueSvid(request: SvidRequest): IssuedSvid {
    return issueSvidFromCsr(this.loaded, request, this.lifetimes, this.clock.now());
  }

  /** The longest SVID lifetime (revocation entries live this long). */
  get maxSvidTtlMs(): number {
    return this.lifetimes.maxTtlMs;
  }

  /** Reloads the CA from the store (another process may have rotated it); true when it had changed. */
  async refresh(): Promise<boolean> {
    const stored = await this.options.store.get<AuthorityRecord>(AUTHORITY_COLLECTION, AUTHORITY_KEY);
    if (!stored) throw new GatehouseError('ERR_PKI_CA_INVALID', { detail: 'the CA record vanished' });
    if (stored.version === this.record.version) return false;
    this.loaded = await loadAuthority({
      record: stored.value,
      vault: this.options.vault,
      trustDomain: this.loaded.trustDomain,
      now: this.clock.now(),
    });
    this.record = { value: stored.value, version: stored.version };
    return true;
  }

  /**
   * Runs the CA rotation state machine once (pure decisions of now, see {@link rotationSteps}): with `force` (the
   * admin's `ca rotate`) the next intermediate is prepared and published now. Every step is written with a version
   * precondition, so replicas racing on it apply it once.
   */
  async rotate(force = false): Promise<RotationResult> {
    const done: string[] = [];
    for (let pass = 0; pass < 4; pass++) {
      await this.refresh();
      const now = this.clock.now();
      const steps = rotationSteps(this.record.value, now, this.policy, force && pass === 0 && done.length === 0);
      const step = steps[0];
      if (!step) break;
      const updated = await applyRotationStep(this.record.value, step, {
        vault: this.options.vault,
        now,
        intermediateTtlMs: this.options.intermediateTtlMs,
      });
      try {
        await this.options.store.write([
          {
            op: 'update',
            collection: AUTHORITY_COLLECTION,
            key: AUTHORITY_KEY,
            value: updated,
            expectVersion: this.record.version,
          },
        ]);
      } catch (err) {
        if (!isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw err;
        continue;
      }
      done.push(step.kind);
      this.options.logger.warn(
        { step: step.kind, ...('intermediateId' in step ? { intermediate: step.intermediateId } : {}) },
        `CA rotation: ${step.kind}`,
      );
    }
    await this.refresh();
    return { steps: done, bundleSequence: this.bundleSequence };
  }

  /** The SPIFFE bundle's sequence number: grows on every bundle change. */
  get bundleSequence(): number {
    return this.record.value.bundleSequence ?? 1;
  }

  /** The trust bundle as a SPIFFE bundle (JWKS with x5c), same certificates as {@link trustBundlePem}. */
  spiffeBundle(refreshHintSeconds: number): SpiffeBundle {
    const now = this.clock.now();
    const live = this.loaded.intermediates.filter((ca) => ca.record.notAfter > now);
    return spiffeBundle(
      [...this.loaded.roots, ...live].map((ca) => ca.certificate),
      this.bundleSequence,
      refreshHintSeconds,
    );
  }

  /** Roots plus the intermediates still valid now, as PEM (the content of `trust-bundle.pem`). */
  trustBundlePem(): string {
    return trustBundlePem(this.loaded, this.clock.now());
  }

  /** Root and active intermediate: subjects, validity, days left, expiry warnings (notices when a successor is due). */
  status(now: number = this.clock.now()): AuthorityStatus {
    const { next, retiring } = this.record.value;
    const status = authorityStatus(this.loaded, now, this.expiryWarningMs, next);
    return {
      ...status,
      bundleSequence: this.bundleSequence,
      ...(next ? { next: { intermediateId: next.intermediateId, activateAt: next.activateAt } } : {}),
      retiring: retiring ?? [],
    };
  }
}
