import { isIP } from 'node:net';
import { GatehouseError } from '../core/index.js';

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function invalid(what: string): GatehouseError {
  return new GatehouseError('ERR_PKI_NAME_INVALID', { message: `Invalid ${what}` });
}

/**
 * Checks a SPIFFE trust domain (lowercase letters, digits, `.`, `-`, `_`; at most 255 bytes) and returns it.
 *
 * @example
 * assertTrustDomain('gatehouse.local');
 */
export function assertTrustDomain(trustDomain: string): string {
  if (!TRUST_DOMAIN.test(trustDomain) || trustDomain.startsWith('.') || trustDomain.endsWith('.')) {
    throw invalid('trust domain');
  }
  return trustDomain;
}

/**
 * The SPIFFE ID of a platform component's listener: `spiffe://<trustDomain>/gatehouse/<component>`.
 *
 * @example
 * listenerSpiffeId('gatehouse.local', 'admin'); // 'spiffe://gatehouse.local/gatehouse/admin'
 */
export function listenerSpiffeId(trustDomain: string, component: string): string {
  if (!PATH_SEGMENT.test(component) || component === '.' || component === '..') throw invalid('component name');
  return `spiffe://${assertTrustDomain(trustDomain)}/gatehouse/${component}`;
}

/**
 * Checks DNS names for a SAN (LDH labels; no wildcards) and returns them lowercased.
 *
 * @example
 * assertDnsNames(['localhost', 'GW.internal']); // ['localhost', 'gw.internal']
 */
export function assertDnsNames(names: readonly string[]): string[] {
  return names.map((name) => {
    if (!DNS_NAME.test(name)) throw invalid('DNS name');
    return name.toLowerCase();
  });
}

/**
 * Checks IPv4/IPv6 literals for a SAN and returns them.
 *
 * @example
 * assertIpAddresses(['127.0.0.1', '::1']);
 */
export function assertIpAddresses(addresses: readonly string[]): string[] {
  return addresses.map((address) => {
    if (isIP(address) === 0) throw invalid('IP address');
    return address;
  });
}

/** Limits of the SPIFFE ID spec: IDs up to 2048 bytes must be handled, a trust domain is at most 255 bytes. */
export const SPIFFE_ID_MAX_BYTES = 2048;

/** A parsed workload SPIFFE ID `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. */
export interface WorkloadSpiffeId {
  id: string;
  trustDomain: string;
  /** The path, starting with `/`. */
  path: string;
  namespace: string;
  serviceAccount: string;
}

/**
 * Parses any SPIFFE ID (`spiffe://<td>/<path>`): lowercase scheme and trust domain, no port, userinfo, query or
 * fragment, a non-empty path of non-empty segments of `[A-Za-z0-9._-]` (no `.` or `..`) not ending with `/`, at most
 * 2048 bytes. Throws ERR_PKI_NAME_INVALID.
 *
 * @example
 * parseSpiffeId('spiffe://example.org/ns/prod/sa/api'); // { trustDomain: 'example.org', path: '/ns/prod/sa/api' }
 */
export function parseSpiffeId(id: string): { id: string; trustDomain: string; path: string } {
  if (typeof id !== 'string' || Buffer.byteLength(id) > SPIFFE_ID_MAX_BYTES || !id.startsWith('spiffe://')) {
    throw invalid('SPIFFE ID');
  }
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw invalid('SPIFFE ID');
  const trustDomain = rest.slice(0, slash);
  const path = rest.slice(slash);
  if (!TRUST_DOMAIN.test(trustDomain) || trustDomain.startsWith('.') || trustDomain.endsWith('.')) {
    throw invalid('SPIFFE ID');
  }
  const segments = path.slice(1).split('/');
  for (const segment of segments) {
    if (!/^[A-Za-z0-9._-]+$/.test(segment) || segment === '.' || segment === '..') throw invalid('SPIFFE ID');
  }
  return { id, trustDomain, path };
}

/**
 * Parses a workload SPIFFE ID of `trustDomain` shaped `spiffe://<td>/ns/<namespace>/sa/<name>` (namespace and name:
 * 1–128 of `[A-Za-z0-9._-]`). Throws ERR_PKI_NAME_INVALID for any other shape or another trust domain.
 *
 * @example
 * parseWorkloadSpiffeId('spiffe://gatehouse.local/ns/prod/sa/api', 'gatehouse.local').serviceAccount; // 'api'
 */
export function parseWorkloadSpiffeId(id: string, trustDomain: string): WorkloadSpiffeId {
  const parsed = parseSpiffeId(id);
  if (parsed.trustDomain !== trustDomain) {
    throw new GatehouseError('ERR_PKI_NAME_INVALID', {
      message: `The SPIFFE ID is not in trust domain ${trustDomain}`,
    });
  }
  const match = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(parsed.path);
  const namespace = match?.[1];
  const serviceAccount = match?.[2];
  if (!namespace || !serviceAccount || !PATH_SEGMENT.test(namespace) || !PATH_SEGMENT.test(serviceAccount)) {
    throw new GatehouseError('ERR_PKI_NAME_INVALID', {
      message: 'Invalid SPIFFE ID: expected spiffe://<trust-domain>/ns/<namespace>/sa/<name>',
    });
  }
  return { ...parsed, namespace, serviceAccount };
}
