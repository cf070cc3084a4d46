import { GatehouseError } from '../core/index.js';
import { csrPemToDer, verifyCsr } from './csr.js';
import type { LoadedAuthority } from './load.js';
import { assertDnsNames, parseWorkloadSpiffeId } from './spiffe_id.js';
import { derToPem, signSvid } from './svid_issue.js';

/** What {@link issueSvidFromCsr} signs: a CSR (DER or PEM) and the names the caller has authorized. */
export interface SvidRequest {
  csrDer?: Buffer;
  csrPem?: string;
  /** `spiffe://<trust-domain>/ns/<namespace>/sa/<name>`; whatever the CSR asks for is ignored. */
  spiffeId: string;
  dnsNames?: readonly string[];
  /** Requested lifetime; default the CA's SVID lifetime, capped at its maximum. */
  ttlMs?: number;
}

/** An issued X.509-SVID. The private key never reached the CA. */
export interface IssuedSvid {
  spiffeId: string;
  /** The leaf as PEM. */
  certificatePem: string;
  /** The leaf, then the intermediate that signed it. */
  chainPem: string;
  serialNumber: string;
  notBefore: number;
  notAfter: number;
}

/** Lifetimes the CA enforces on SVIDs. */
export interface SvidLifetimes {
  defaultTtlMs: number;
  maxTtlMs: number;
}

const MAX_DNS_NAMES = 32;

/**
 * Verifies the CSR (signature, EC P-256 or Ed25519 key), checks the SPIFFE ID (workload shape, this trust domain) and
 * DNS names, and signs the SVID with the active intermediate (TTL capped at the maximum and at the intermediate).
 *
 * @example
 * const svid = issueSvidFromCsr(loaded, { csrPem, spiffeId }, { defaultTtlMs: DAY, maxTtlMs: DAY }, now);
 */
export function issueSvidFromCsr(
  authority: LoadedAuthority,
  request: SvidRequest,
  lifetimes: SvidLifetimes,
  now: number,
): IssuedSvid {
  const spiffeId = parseWorkloadSpiffeId(request.spiffeId, authority.trustDomain).id;
  const dnsNames = [...new Set(assertDnsNames(request.dnsNames ?? []))];
  if (dnsNames.length > MAX_DNS_NAMES) {
    throw new GatehouseError('ERR_PKI_NAME_INVALID', { message: `At most ${MAX_DNS_NAMES} DNS names` });
  }
  const ttlMs = request.ttlMs ?? lifetimes.defaultTtlMs;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 60_000) {
    throw new GatehouseError('ERR_PKI_NAME_INVALID', { message: 'Invalid certificate lifetime (at least 1m)' });
  }
  const der = request.csrDer ?? (request.csrPem === undefined ? undefined : csrPemToDer(request.csrPem));
  if (!der)
    throw new GatehouseError('ERR_PKI_CSR_INVALID', { message: 'Invalid certificate signing request: no CSR given' });
  const csr = verifyCsr(der);
  const signer = authority.active.signer;
  if (signer.notAfter <= now) {
    throw new GatehouseError('ERR_PKI_CA_INVALID', { detail: 'the active intermediate has expired' });
  }
  const signed = signSvid({ signer, csr, spiffeId, dnsNames, now, ttlMs: Math.min(ttlMs, lifetimes.maxTtlMs) });
  const certificatePem = derToPem(signed.der);
  return {
    spiffeId,
    certificatePem,
    chainPem: certificatePem + derToPem(signer.certificateDer),
    serialNumber: signed.serialNumber,
    notBefore: signed.notBefore,
    notAfter: signed.notAfter,
  };
}
