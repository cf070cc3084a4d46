import { describe, expect, it } from 'vitest';
import { ClientAddresses, addressKey } from '../../src/gateway/index.js';

describe('ClientAddresses', () => {
  const addresses = new ClientAddresses(['10.0.0.0/8', '2001:db8:ffff::/48']);

  it('uses the socket address when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(addresses.resolve('198.51.100.4', '1.2.3.4')).toBe('198.51.100.4');
    expect(addresses.resolve('::ffff:198.51.100.4', undefined)).toBe('198.51.100.4');
  });

  it('reads X-Forwarded-For from the right, skipping trusted proxies', () => {
    expect(addresses.resolve('10.0.0.5', '1.2.3.4, 198.51.100.7, 10.0.0.9')).toBe('198.51.100.7');
    expect(addresses.resolve('10.0.0.5', ['1.2.3.4', '198.51.100.7'])).toBe('198.51.100.7');
    expect(addresses.resolve('2001:db8:ffff::1', '2001:db8:1::5')).toBe('2001:db8:1::5');
  });

  it('reads entries with a port, in brackets, or IPv4-mapped in capitals as their address', () => {
    expect(addresses.resolve('10.0.0.5', '1.2.3.4, 198.51.100.7:4711')).toBe('198.51.100.7');
    expect(addresses.resolve('10.0.0.5', '[2001:db8:1::5]:4711')).toBe('2001:db8:1::5');
    expect(addresses.resolve('10.0.0.5', '[2001:db8:1::5]')).toBe('2001:db8:1::5');
    expect(addresses.resolve('10.0.0.5', '::FFFF:198.51.100.7')).toBe('198.51.100.7');
    expect(addresses.resolve('10.0.0.5', '198.51.100.7, 10.0.0.9:80')).toBe('198.51.100.7'); // trusted, with a port
    expect(addresses.resolve('10.0.0.5', '198.51.100.7:x')).toBe('10.0.0.5'); // not a port: malformed
    expect(addresses.resolve('10.0.0.5', '[2001:db8:1::5]x')).toBe('10.0.0.5');
  });

  it('stops at a malformed hop and keeps the last trusted address', () => {
    expect(addresses.resolve('10.0.0.5', 'garbage, 10.0.0.7')).toBe('10.0.0.7');
    expect(addresses.resolve('10.0.0.5', '')).toBe('10.0.0.5');
  });

  it('refuses a malformed CIDR', () => {
    expect(() => new ClientAddresses(['10.0.0.0/33'])).toThrow(/trustedProxies/);
    expect(() => new ClientAddresses(['nope'])).toThrow(/trustedProxies/);
  });
});

describe('addressKey', () => {
  it('keys IPv4 by the address and IPv6 by its /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('reads an IPv4-mapped IPv6 address (a dual-stack listener) as its IPv4 address, not as one shared /64', () => {
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:198.51.100.9')).not.toBe(addressKey('::ffff:192.0.2.1'));
  });
});
