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
