import { describe, expect, it } from 'vitest';
import { FailureStreak, GatehouseError, ManualClock, MemoryLogger } from '../../src/core/index.js';

/**
 * A replica whose PostgreSQL went away used to log every tick of every background loop (several warnings a second).
 * A streak logs the first "storage away" failure, a reminder a minute, and one line when the loop recovers.
 */
const away = () => new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'postgres ECONNREFUSED' });

describe('FailureStreak', () => {
  it('logs one warning for failures in a row while the storage is away, then one info line on recovery', async () => {
    const clock = new ManualClock(0);
    const logger = new MemoryLogger();
    const streak = new FailureStreak({ loop: 'revocation refresh', clock, logger, level: 'error' });
    for (let i = 0; i < 10; i++) {
      await streak.run(() => Promise.reject(away()));
      clock.advance(1000);
    }
    expect(logger.lines.map((l) => [l.level, l.event, l.loop])).toEqual([
      ['warn', 'loop_failing', 'revocation refresh'],
    ]);
    expect(String(logger.lines[0]!.err)).toContain('postgres ECONNREFUSED');

    await streak.run(() => Promise.resolve());
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]).toMatchObject({
      level: 'info',
      event: 'loop_recovered',
      failures: 10,
      forMs: 10_000,
      msg: 'revocation refresh recovered after 10 failures, 10s',
    });
    await streak.run(() => Promise.resolve());
    expect(logger.lines).toHaveLength(2);
  });

  it('reminds once a minute with the count, and starts afresh after a recovery', async () => {
    const clock = new ManualClock(0);
    const logger = new MemoryLogger();
    const streak = new FailureStreak({ loop: 'CA refresh', clock, logger });
    for (let i = 0; i < 130; i++) {
      streak.failed(away());
      clock.advance(1000);
    }
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => [l.event, l.failures])).toEqual([
      ['loop_failing', undefined],
      ['loop_still_failing', 61],
      ['loop_still_failing', 121],
    ]);
    streak.succeeded();
    streak.failed(away());
    expect(logger.lines.map((l) => l.event)).toEqual([
      'loop_failing',
      'loop_still_failing',
      'loop_still_failing',
      'loop_recovered',
      'loop_failing',
    ]);
  });

  it('keeps logging other failures every time at the loop level', async () => {
    const clock = new ManualClock(0);
    const logger = new MemoryLogger();
    const streak = new FailureStreak({ loop: 'CA refresh', clock, logger, level: 'error' });
    for (let i = 0; i < 3; i++) await streak.run(() => Promise.reject(new Error('certificate chain broken')));
    // An ERR_STORE_UNAVAILABLE wrapped by another error is still the storage being away.
    await streak.run(() => Promise.reject(new GatehouseError('ERR_PKI_CA_INVALID', { cause: away() })));
    await streak.run(() => Promise.reject(away()));
    expect(logger.lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'CA refresh failed'],
      ['error', 'CA refresh failed'],
      ['error', 'CA refresh failed'],
      ['warn', 'CA refresh failed (storage unavailable)'],
    ]);
  });
});
