import { BlockList, isIP } from 'node:net';
import { GatehouseError } from '../core/index.js';
import { plainAddress as plain } from '../ratelimit/index.js';

/**
 * The address of one X-Forwarded-For entry: trimmed, and without the port some proxies append (`192.0.2.1:4711`,
 * `[2001:db8::1]:4711`, `[2001:db8::1]`); anything else is returned as is (and then fails `isIP`).
 */
function hopAddress(entry: string): string {
  const hop = entry.trim();
  if (hop.startsWith('[')) {
    const close = hop.indexOf(']');
    const rest = hop.slice(close + 1);
    return close > 0 && (rest === '' || /^:\d{1,5}$/.test(rest)) ? hop.slice(1, close) : hop;
  }
  const colon = hop.indexOf(':');
  return colon > 0 && hop.indexOf(':', colon + 1) === -1 && /^\d{1,5}$/.test(hop.slice(colon + 1))
    ? hop.slice(0, colon)
    : hop;
}

/**
 * A BlockList of IPv4 and IPv6 CIDRs (a bare address is a /32 or /128); ERR_CONFIG_INVALID naming `key.i` for an
 * entry that is not one.
 *
 * @example
 * const proxies = subnets(['10.0.0.0/8', '2001:db8::/32'], 'gateway.trustedProxies');
 */
export function subnets(cidrs: readonly string[], key: string): BlockList {
  const list = new BlockList();
  for (const [i, cidr] of cidrs.entries()) {
    const parts = cidr.split('/');
    const [address = '', bits] = parts;
    const family = isIP(address);
    // The prefix length in decimal digits only: `Number('')` is 0, and `10.0.0.0/` must not allow every address.
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (parts.length > 2 || family === 0 || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `config: ${key}.${i}: "${cidr}" is not an IPv4 or IPv6 CIDR`,
      });
    }
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/**
 * Whether `address` (as `plainAddress` leaves it: IPv4-mapped IPv6 unwrapped) is in `list`.
 */
export function inSubnets(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Who the client is: the socket's peer address, unless that peer is a trusted proxy; then X-Forwarded-For is read from
 * the right, skipping trusted proxies, and the first untrusted address is the client (a client can prepend anything
 * to the header, so the left side is never believed). An entry's port (`192.0.2.1:4711`, `[2001:db8::1]:4711`) is
 * dropped; an entry that is still not an address stops the walk.
 *
 * @example
 * const addresses = new ClientAddresses(['10.0.0.0/8']);
 * addresses.resolve('10.0.0.5', '198.51.100.7, 10.0.0.9'); // '198.51.100.7'
 */
export class ClientAddresses {
  private readonly trusted: BlockList;
  private readonly any: boolean;

  constructor(cidrs: readonly string[]) {
    this.trusted = subnets(cidrs, 'gateway.trustedProxies');
    this.any = cidrs.length > 0;
  }

  /** True when `address` is inside a trusted-proxy CIDR. */
  isTrusted(address: string): boolean {
    if (!this.any) return false;
    return inSubnets(this.trusted, plain(address));
  }

  /**
   * The client address of a request whose socket peer is `peer`.
   *
   * @example
   * addresses.resolve(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
   */
  resolve(peer: string, forwardedFor: string | string[] | undefined): string {
    const direct = plain(peer);
    if (forwardedFor === undefined || !this.isTrusted(direct)) return direct;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = direct;
    for (let i = hops.length - 1; i >= 0; i -= 1) {
      const hop = plain(hopAddress(hops[i] ?? ''));
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }
}
