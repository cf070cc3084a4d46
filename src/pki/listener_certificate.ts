import { GatehouseError } from '../core/index.js';
import { signLeaf, type LeafIssuer } from './leaf.js';
import { assertDnsNames, assertIpAddresses, listenerSpiffeId } from './spiffe_id.js';

/** The SANs every platform listener certificate carries, so that local curl/openssl/Node clients verify it. */
export const LISTENER_DEFAULT_DNS_NAMES: readonly string[] = ['localhost'];
export const LISTENER_DEFAULT_IP_ADDRESSES: readonly string[] = ['127.0.0.1'];

/** What a platform listener asks for. */
export interface ListenerCertificateRequest {
  /** The component name, the last segment of `spiffe://<td>/gatehouse/<component>` (e.g. `admin`, `gateway`). */
  component: string;
  /** Extra DNS SANs besides `localhost`. */
  dnsNames?: readonly string[];
  /** Extra IP SANs besides `127.0.0.1`. */
  ipAddresses?: readonly string[];
  /** Requested lifetime; capped at the intermediate's notAfter. */
  ttlMs: number;
}

/** A listener certificate and its key, ready for {@link serverTlsOptions}-style options. */
export interface ListenerCertificate {
  /** PEM: the leaf, then the intermediate. */
  certPem: string;
  /** PKCS#8 PEM. In memory only: never stored, never logged. */
  keyPem: string;
  /** ms since the epoch (backdated 10 s before `issuedAt`). */
  notBefore: number;
  /** ms since the epoch. */
  notAfter: number;
  /** When it was issued (ms): renewal timing counts from here, not from the backdated notBefore. */
  issuedAt: number;
  spiffeId: string;
  /** Lowercase hex. */
  serialNumber: string;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * Issues a listener certificate under `issuer`: SPIFFE ID `spiffe://<td>/gatehouse/<component>`, SANs `localhost`,
 * `127.0.0.1` plus the extra names requested.
 *
 * @example
 * const cert = await issueListenerCertificate(issuer, 'gatehouse.local', { component: 'admin', ttlMs: 86_400_000 }, now);
 */
export async function issueListenerCertificate(
  issuer: LeafIssuer,
  trustDomain: string,
  request: ListenerCertificateRequest,
  now: number,
): Promise<ListenerCertificate> {
  if (!Number.isSafeInteger(request.ttlMs) || request.ttlMs <= 0) {
    throw new GatehouseError('ERR_PKI_NAME_INVALID', { message: 'Invalid certificate lifetime' });
  }
  const spiffeId = listenerSpiffeId(trustDomain, request.component);
  const dnsNames = unique(assertDnsNames([...LISTENER_DEFAULT_DNS_NAMES, ...(request.dnsNames ?? [])]));
  const ipAddresses = unique(assertIpAddresses([...LISTENER_DEFAULT_IP_ADDRESSES, ...(request.ipAddresses ?? [])]));
  const leaf = await signLeaf({ issuer, names: { uri: spiffeId, dnsNames, ipAddresses }, now, ttlMs: request.ttlMs });
  return {
    certPem: leaf.certificate.toString('pem') + '\n' + issuer.certificate.toString('pem') + '\n',
    keyPem: leaf.keyPem,
    notBefore: leaf.certificate.notBefore.getTime(),
    notAfter: leaf.certificate.notAfter.getTime(),
    issuedAt: leaf.issuedAt,
    spiffeId,
    serialNumber: leaf.certificate.serialNumber,
  };
}
