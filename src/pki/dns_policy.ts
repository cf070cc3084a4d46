import { GatehouseError } from '../core/index.js';
import { assertDnsNames } from './spiffe_id.js';

/** Why a well-formed name may not go into a workload certificate, or undefined. */
function refusal(name: string, allowed: readonly string[] | undefined): string | undefined {
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return `${name}: localhost names the platform's own listeners`;
  }
  // A last label of digits or 0x-hex makes URL parsers (WHATWG "ends in a number") read the host as an IPv4 address.
  const last = name.slice(name.lastIndexOf('.') + 1);
  if (/^(\d+|0x[0-9a-f]*)$/.test(last)) return `${name}: looks like an IP address`;
  if (allowed !== undefined && !allowed.some((p) => (p.startsWith('*.') ? name.endsWith(p.slice(1)) : p === name))) {
    return `${name}: not in pki.allowedDnsNames`;
  }
  return undefined;
}

/**
 * The DNS names a workload asks for in an SVID, checked (ERR_PKI_NAME_INVALID when malformed) and lowercased, or
 * ERR_PKI_DNS_NAME_NOT_ALLOWED (403) for a name the bootstrap credential cannot vouch for: `localhost` and
 * `*.localhost` (the platform listeners' certificates carry localhost, and their clients trust the same bundle), names
 * that parse as an IP address, and, when `allowed` is configured (`pki.allowedDnsNames`), any name matching none of
 * its exact names or `*.suffix` patterns.
 *
 * @example
 * assertWorkloadDnsNames(['orders.svc.cluster.local'], ['*.svc.cluster.local']); // ['orders.svc.cluster.local']
 */
export function assertWorkloadDnsNames(names: readonly string[], allowed: readonly string[] | undefined): string[] {
  const checked = assertDnsNames(names);
  for (const name of checked) {
    const why = refusal(name, allowed);
    if (why !== undefined) throw new GatehouseError('ERR_PKI_DNS_NAME_NOT_ALLOWED', { detail: why });
  }
  return checked;
}
