import { isIP } from 'node:net';

/**
 * Strips the IPv4-mapped IPv6 prefix so `::ffff:192.0.2.1` (any case), what a dual-stack listener reports for an IPv4
 * peer, reads as `192.0.2.1`.
 *
 * @example
 * plainAddress('::ffff:192.0.2.1'); // '192.0.2.1'
 */
export function plainAddress(address: string): string {
  if (address.length < 14 || address.charCodeAt(0) !== 58 /* : */) return address;
  const mapped = address.startsWith('::ffff:') || address.slice(0, 7).toLowerCase() === '::ffff:';
  return mapped && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Groups a list of IPv6 parts stands for (a dotted IPv4 tail is two). */
function width(parts: string[]): number {
  return parts.reduce((n, part) => n + (part.includes('.') ? 2 : 1), 0);
}

/**
 * The rate-limit key of a source address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64 prefix. One subscriber
 * usually holds a whole /64, so a budget per full IPv6 address would be one per each of 2^64 addresses an attacker
 * can pick from; every per-address limit of the platform (gateway, sign-in, token endpoint, device codes, CA) keys by
 * this.
 *
 * @example
 * addressKey('2001:db8:1:2:aaaa::1'); // '2001:db8:1:2::/64'
 * addressKey('::ffff:192.0.2.1'); // '192.0.2.1'
 */
export function addressKey(address: string): string {
  const plain = plainAddress(address);
  if (isIP(plain) !== 6) return plain;
  const [head = '', tail = ''] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = plain.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = plain.includes('::')
    ? [...left, ...new Array<string>(8 - width(left) - width(right)).fill('0'), ...right]
    : left;
  const prefix = groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
  return `${prefix.join(':')}::/64`;
}
