import { describe, expect, it } from 'vitest';
import { expiryWarningLog } from '../../src/app/ca_expiry_log.js';
import { MemoryLogger } from '../../src/core/index.js';

const day = (n: number) => `the intermediate CA certificate expires on 2027-01-01T00:00:00.000Z (${n} days left)`;

describe('CA expiry warning in the every-minute check', () => {
  it('logs a warning when its words change (once a day), not at every check, and not again after the start', () => {
    const logger = new MemoryLogger();
    const log = expiryWarningLog(logger, [day(20)]);
    for (let minute = 0; minute < 1440; minute++) log([day(20)]);
    expect(logger.lines).toHaveLength(0); // the start (Authority.open) logged day 20 already
    for (let minute = 0; minute < 1440; minute++) log([day(19)]);
    expect(logger.lines.map((l) => [l.level, l.warnings])).toEqual([['warn', [day(19)]]]);
    log([]); // rotated: nothing to say
    log([day(19)]); // back (another replica's state, say): said again
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]?.msg).toBe('the certificate authority is close to expiry');
  });
});
