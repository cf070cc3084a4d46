// Per-address budgets of the identity server and the CA key IPv6 peers by their /64 (as the gateway does): one
// subscriber holds a whole /64, so a budget per full address would give an attacker 2^64 of them.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { CaThrottle } from '../../src/http/ca_throttle.js';
import { AuthThrottle } from '../../src/identity/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';
import { codeOf } from '../support/error_code.js';

const limit = (rate: number) => ({ rate, period: 60_000, burst: 0 });

describe('per-address budgets over IPv6', () => {
  it('token endpoint: failed authentications from one /64 share a budget; another /64 and IPv4 do not', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryLimiterStore({ clock, maxKeys: 1000 });
    const throttle = new AuthThrottle(store, {
      tokenRequestsPerAddress: limit(1000),
      failedAuthPerAddress: limit(2),
      failedAuthPerClient: limit(1000),
    });
    // two failures from different addresses of one /64 empty its budget
    await throttle.failed('2001:db8:1:2::a', undefined);
    await throttle.failed('2001:db8:1:2:ffff:ffff:ffff:1', undefined);
    expect(await codeOf(throttle.admit('2001:db8:1:2::99', undefined))).toBe('ERR_OAUTH_THROTTLED');
    expect(await codeOf(throttle.admit('2001:db8:1:3::a', undefined))).toBeUndefined();
    expect(await codeOf(throttle.admit('::ffff:192.0.2.1', undefined))).toBeUndefined();
  });

  it('CA: enrollments from one /64 share the sign budget', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryLimiterStore({ clock, maxKeys: 1000 });
    const throttle = new CaThrottle(store, {
      signPerAddress: limit(1),
      failedBootstrapPerAddress: limit(100),
      renewPerAddress: limit(100),
      renewPerSpiffeId: limit(100),
    });
    await throttle.admitSign('2001:db8:5:6::1');
    expect(await codeOf(throttle.admitSign('2001:db8:5:6::2'))).toBe('ERR_PKI_RATE_LIMITED');
    expect(await codeOf(throttle.admitSign('2001:db8:5:7::1'))).toBeUndefined();
  });
});
