import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { DAY, T0, TRUST_DOMAIN, fixture } from './helpers.js';

describe('Authority.status', () => {
  it('reports subjects, validity and days left, without warnings when far from expiry', async () => {
    const f = fixture();
    const ca = await f.open({ expiryWarningMs: 30 * DAY });
    const s = ca.status(T0);
    expect(s.trustDomain).toBe(TRUST_DOMAIN);
    expect(s.root.subject).toContain('CN=gatehouse root CA');
    expect(s.intermediate.subject).toContain('CN=gatehouse intermediate CA');
    expect(s.root.daysLeft).toBe(3650);
    expect(s.intermediate.daysLeft).toBe(365);
    expect(s.intermediate.notAfter).toBe(T0 + 365 * DAY);
    expect(s.intermediate.serialNumber).toMatch(/^[0-9a-f]{32}$/);
    expect(s.warnings).toEqual([]);
    expect(ca.status().warnings).toEqual([]); // defaults to the clock
  });

  it('warns at the edge of expiryWarningMs: not just before, yes at it and after, and once expired', async () => {
    const f = fixture();
    const ca = await f.open({ expiryWarningMs: 30 * DAY });
    const intermediateEnd = T0 + 365 * DAY;
    expect(ca.status(intermediateEnd - 30 * DAY - 1).warnings).toEqual([]);
    const at = ca.status(intermediateEnd - 30 * DAY);
    expect(at.warnings).toHaveLength(1);
    expect(at.warnings[0]).toMatch(/intermediate CA certificate expires on .* \(30 days left\)/);
    expect(ca.status(intermediateEnd - 1).warnings[0]).toMatch(/\(0 days left\)/);
    const expired = ca.status(intermediateEnd);
    expect(expired.warnings[0]).toMatch(/intermediate CA certificate expired on/);
    expect(expired.intermediate.daysLeft).toBe(0);
    expect(ca.status(intermediateEnd + DAY).intermediate.daysLeft).toBe(-1);
  });

  it('warns for the root too, and logs the warnings when opening', async () => {
    const f = fixture();
    await f.open({ rootTtlMs: 20 * DAY, intermediateTtlMs: 20 * DAY });
    const logger = new MemoryLogger();
    f.clock.advance(DAY);
    const ca = await f.open({ logger, expiryWarningMs: 30 * DAY });
    expect(ca.status().warnings).toHaveLength(2);
    expect(ca.status().warnings[0]).toMatch(/^the root CA certificate expires/);
    const line = logger.lines.find((l) => l.level === 'warn');
    expect(line?.msg).toBe('the certificate authority is close to expiry');
    expect(line?.warnings).toHaveLength(2);
  });
});
