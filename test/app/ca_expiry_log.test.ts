import { describe, expect, it } from 'vitest';
import { expiryWarningLog } from '../../src/app/ca_expiry_log.js';
import { MemoryLogger } from '../../src/core/index.js';

const day = (n: number) => `the intermediate CA certificate expires on 2027-01-01T00:00:00.000Z (${n} days left)`;
const scheduled = (n: number) =>
  `${day(n)}; its successor ica-2 is published and takes over on 2026-12-20T00:00:00.000Z`;
const warnings = (...w: string[]) => ({ warnings: w, notices: [] });
const notices = (...n: string[]) => ({ warnings: [], notices: n });

describe('CA expiry warning in the every-minute check', () => {
  it('logs a warning when its words change (once a day), not at every check, and not again after the start', () => {
    const logger = new MemoryLogger();
    const log = expiryWarningLog(logger, warnings(day(20)));
    for (let minute = 0; minute < 1440; minute++) log(warnings(day(20)));
    expect(logger.lines).toHaveLength(0); // the start (Authority.open) logged day 20 already
    for (let minute = 0; minute < 1440; minute++) log(warnings(day(19)));
    expect(logger.lines.map((l) => [l.level, l.warnings])).toEqual([['warn', [day(19)]]]);
    log(warnings()); // rotated: nothing to say
    log(warnings(day(19))); // back (another replica's state, say): said again
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]?.msg).toBe('the certificate authority is close to expiry');
  });

  it('once a successor is published in time, says at info level that rotation is scheduled instead of warning', () => {
    const logger = new MemoryLogger();
    const log = expiryWarningLog(logger, warnings(day(20)));
    for (let minute = 0; minute < 1440; minute++) log(notices(scheduled(20))); // `ca rotate` (on any replica)
    for (let minute = 0; minute < 1440; minute++) log(notices(scheduled(19)));
    expect(logger.lines.map((l) => [l.level, l.msg, l.notices])).toEqual([
      ['info', 'CA rotation is scheduled', [scheduled(20)]],
      ['info', 'CA rotation is scheduled', [scheduled(19)]],
    ]);
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(false);
    log(warnings(day(19))); // the successor is gone (or too late): the warning is back
    expect(logger.lines.at(-1)).toMatchObject({ level: 'warn', warnings: [day(19)] });
    // Started with a rotation already scheduled: the start's info line is not repeated.
    const restarted = new MemoryLogger();
    expiryWarningLog(restarted, notices(scheduled(19)))(notices(scheduled(19)));
    expect(restarted.lines).toEqual([]);
  });
});
