import { describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../../src/adapters/index.js';
import { ManualClock } from '../../../src/core/index.js';
import {
  DeviceAuthorizations,
  GUESS_BOUND,
  USER_CODE_ALPHABET,
  attemptsWithin,
  formatUserCode,
  guessProbability,
  harmonic,
  newUserCode,
  normalizeUserCode,
  userCodeLength,
} from '../../../src/identity/index.js';

describe('user codes (RFC 8628 §6.1)', () => {
  it('uses the 20 consonants and shows groups of four', () => {
    expect(USER_CODE_ALPHABET).toBe('BCDFGHJKLMNPQRSTVWXZ');
    const code = newUserCode(8);
    expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
    expect(formatUserCode('WDJBMJHT')).toBe('WDJB-MJHT');
    expect(formatUserCode('WDJBMJHTXZ')).toBe('WDJB-MJHT-XZ');
  });

  it('compares case-insensitively without dashes or spaces, and refuses what cannot be a code', () => {
    expect(normalizeUserCode('wdjb-mjht')).toBe('WDJBMJHT');
    expect(normalizeUserCode(' WdJb MjHt ')).toBe('WDJBMJHT');
    expect(normalizeUserCode('WDJB-MJHA')).toBeUndefined(); // a vowel
    expect(normalizeUserCode('WDJB')).toBeUndefined();
    expect(normalizeUserCode(42)).toBeUndefined();
  });

  it('is 8 characters when few guesses hit few codes, as RFC 8628 §5.1 computes', () => {
    expect(userCodeLength(1, 5)).toBe(8);
    expect(guessProbability(5, 1, 8)).toBeLessThanOrEqual(GUESS_BOUND);
  });

  it('grows with the pending count so that attempts · pending / 20^L stays at or below 2^-32', () => {
    const attempts = attemptsWithin({ rate: 60, period: 60_000, burst: 60 }, 600_000);
    expect(attempts).toBe(661);
    let previous = 0;
    for (const pending of [1, 10, 100, 1_000, 10_000, 100_000]) {
      const length = userCodeLength(pending, attempts);
      expect(length).toBeGreaterThanOrEqual(previous);
      expect(guessProbability(attempts, pending, length)).toBeLessThanOrEqual(GUESS_BOUND);
      // the shortest such length: one character less would break the bound
      if (length > 8) expect(guessProbability(attempts, pending, length - 1)).toBeGreaterThan(GUESS_BOUND);
      previous = length;
    }
    expect(userCodeLength(1, attempts)).toBe(10);
    expect(userCodeLength(100_000, attempts)).toBe(14);
  });

  it('keeps the chance of hitting ANY live code below 2^-32 although each code keeps its issue-time length', () => {
    const attempts = 661;
    const maxPending = 1000;
    expect(harmonic(1)).toBe(1);
    expect(harmonic(3)).toBeCloseTo(1 + 1 / 2 + 1 / 3, 12);
    // worst case: codes issued one after another while none expires, the j-th with j pending
    let total = 0;
    const lengths = new Set<number>();
    for (let pending = 1; pending <= maxPending; pending++) {
      const length = userCodeLength(pending, attempts, maxPending);
      lengths.add(length);
      total += guessProbability(attempts, 1, length);
    }
    expect(total).toBeLessThanOrEqual(GUESS_BOUND);
    expect([...lengths].sort()).toEqual([11, 12, 13]);
  });

  it('issues longer codes as more authorizations are pending', async () => {
    const clock = new ManualClock(Date.now());
    const store = new MemoryRecordStore({ clock });
    const devices = new DeviceAuthorizations({ store, clock, ttlMs: 600_000, interval: 5, maxPending: 2 });
    const request = { clientId: 'tv', scopes: [], audience: 'https://a.example' };
    // attempts 3, H(2) = 1.5: 3 · 1.5 · 1 / 20^8 ≤ 2^-32 < 3 · 1.5 · 2 / 20^8
    const first = await devices.start(request, 3);
    const second = await devices.start(request, 3);
    expect(first.userCode).toHaveLength(8);
    expect(second.userCode).toHaveLength(9);
    expect(first.deviceCode).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    expect(await devices.pending()).toBe(2);
    clock.advance(600_001);
    expect(await devices.pending()).toBe(0);
    expect((await devices.start(request, 3)).userCode).toHaveLength(8);
    await store.close();
  });

  it('stores the device code only as a digest', async () => {
    const clock = new ManualClock(Date.now());
    const store = new MemoryRecordStore({ clock });
    const devices = new DeviceAuthorizations({ store, clock, ttlMs: 600_000, interval: 5, maxPending: 100 });
    const { deviceCode } = await devices.start({ clientId: 'tv', scopes: [], audience: 'a' }, 5);
    const records = await store.list('identity_device_codes');
    expect(records).toHaveLength(1);
    expect(JSON.stringify(records)).not.toContain(deviceCode);
    await store.close();
  });
});
