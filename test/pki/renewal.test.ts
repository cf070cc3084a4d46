import { describe, expect, it } from 'vitest';
import { isRenewalDue, renewalTime } from '../../src/pki/index.js';

const H = 3_600_000;

describe('renewalTime', () => {
  it('counts the fraction from issuance, not from the backdated notBefore', () => {
    expect(renewalTime({ issuedAt: 1_000_000, notAfter: 1_000_000 + 24 * H, fraction: 2 / 3 })).toBe(
      1_000_000 + 16 * H,
    );
    expect(renewalTime({ issuedAt: 0, notAfter: 3_000, fraction: 0.5 })).toBe(1_500);
  });

  it('spreads by ± jitterFraction of the lifetime with an injected random', () => {
    const base = { issuedAt: 0, notAfter: 100 * H, fraction: 0.5, jitterFraction: 0.1 };
    expect(renewalTime({ ...base, random: () => 0 })).toBe(40 * H);
    expect(renewalTime({ ...base, random: () => 0.5 })).toBe(50 * H);
    expect(renewalTime({ ...base, random: () => 0.999999 })).toBeLessThan(60 * H);
    expect(renewalTime({ ...base, random: () => 0.999999 })).toBeGreaterThan(59.9 * H);
  });

  it('stays strictly inside the lifetime even with a jitter that would leave it', () => {
    expect(renewalTime({ issuedAt: 0, notAfter: 1_000, fraction: 0.9, jitterFraction: 0.5, random: () => 0.999 })).toBe(
      999,
    );
    expect(renewalTime({ issuedAt: 0, notAfter: 1_000, fraction: 0.1, jitterFraction: 0.5, random: () => 0 })).toBe(0);
  });

  it('treats an empty or inverted lifetime as due at issuance', () => {
    expect(renewalTime({ issuedAt: 500, notAfter: 500, fraction: 0.5 })).toBe(500);
    expect(renewalTime({ issuedAt: 500, notAfter: 100, fraction: 0.5 })).toBe(500);
  });

  it('refuses a fraction outside (0, 1)', () => {
    for (const fraction of [0, 1, -0.1, 1.5, Number.NaN]) {
      expect(() => renewalTime({ issuedAt: 0, notAfter: 1_000, fraction })).toThrow(RangeError);
    }
  });
});

describe('isRenewalDue', () => {
  const cert = { issuedAt: 10_000, notAfter: 10_000 + 24 * H, fraction: 2 / 3 };
  const at = 10_000 + 16 * H;

  it('is false just before the renewal time, true at it and just after', () => {
    expect(isRenewalDue({ ...cert, now: at - 1 })).toBe(false);
    expect(isRenewalDue({ ...cert, now: at })).toBe(true);
    expect(isRenewalDue({ ...cert, now: at + 1 })).toBe(true);
  });

  it('is false at issuance (even though notBefore was backdated) and true after expiry', () => {
    expect(isRenewalDue({ ...cert, now: cert.issuedAt })).toBe(false);
    expect(isRenewalDue({ ...cert, now: cert.issuedAt - 10_000 })).toBe(false);
    expect(isRenewalDue({ ...cert, now: cert.notAfter })).toBe(true);
    expect(isRenewalDue({ ...cert, now: cert.notAfter + H })).toBe(true);
  });
});
