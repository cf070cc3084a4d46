import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { DAY, T0, TRUST_DOMAIN, fixture, type Fixture } from './helpers.js';

const iso = (t: number) => new Date(t).toISOString();

/** Rewrites the stored CA record's pending `next` to activate at `activateAt` (a schedule rotation would not make). */
async function moveActivation(f: Fixture, activateAt: number): Promise<void> {
  const stored = (await f.store.get<AuthorityRecord>('pki_authorities', 'platform'))!;
  const value = { ...stored.value, next: { ...stored.value.next!, activateAt } };
  await f.store.write([
    { op: 'update', collection: 'pki_authorities', key: 'platform', value, expectVersion: stored.version },
  ]);
}

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

  it('says rotation is scheduled, not that the intermediate is expiring, once its successor is published in time', async () => {
    const f = fixture();
    const options = { intermediateTtlMs: 40 * DAY, expiryWarningMs: 30 * DAY, activationDelayMs: 5 * DAY };
    const ca = await f.open(options);
    const notAfter = T0 + 40 * DAY;
    f.clock.advance(15 * DAY); // 25 days left, before the automatic prepare (half of its life)
    expect(ca.status().warnings).toEqual([
      `the intermediate CA certificate expires on ${iso(notAfter)} (25 days left)`,
    ]);
    expect(ca.status().notices).toEqual([]);

    expect((await ca.rotate(true)).steps).toEqual(['prepare']);
    const next = ca.status().next!;
    expect(next.activateAt).toBe(T0 + 20 * DAY);
    const scheduled = ca.status();
    expect(scheduled.warnings).toEqual([]);
    expect(scheduled.notices).toEqual([
      `the intermediate CA certificate expires on ${iso(notAfter)} (25 days left); its successor ${next.intermediateId} is published and takes over on ${iso(T0 + 20 * DAY)}`,
    ]);
    // Opening the CA (a restart, another replica) says so at info level, without the expiry warning.
    const logger = new MemoryLogger();
    await f.open({ ...options, logger });
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(logger.lines.find((l) => l.msg === 'CA rotation is scheduled')).toMatchObject({
      level: 'info',
      notices: scheduled.notices,
    });

    // The edge: a successor activating a moment before the active one expires is in time; at its expiry it is not.
    await moveActivation(f, notAfter - 1);
    await ca.refresh();
    expect(ca.status().warnings).toEqual([]);
    expect(ca.status().notices[0]).toContain(`takes over on ${iso(notAfter - 1)}`);
    await moveActivation(f, notAfter);
    await ca.refresh();
    expect(ca.status().notices).toEqual([]);
    expect(ca.status().warnings).toEqual([
      `the intermediate CA certificate expires on ${iso(notAfter)} (25 days left)`,
    ]);
    // Once expired, a pending successor does not hide it.
    await moveActivation(f, notAfter - 1);
    await ca.refresh();
    expect(ca.status(notAfter).warnings).toEqual([`the intermediate CA certificate expired on ${iso(notAfter)}`]);
    expect(ca.status(notAfter).notices).toEqual([]);
  });
});
