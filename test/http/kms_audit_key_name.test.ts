import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/cli/logger.js';
import { kmsAudit } from '../../src/http/kms_audit.js';
import { fixture, openKeyring } from '../kms/keyring_fixture.js';

/** Collects the JSON lines the real process logger (pino, with its redaction paths) writes. */
function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('info', { write: (line: string) => void lines.push(line) }) };
}

// The process logger redacts every top-level `key` field. KMS audit lines and key lifecycle events wrote the key
// name as `key`, so in a real deployment every one of them said `"key":"[redacted]"`: an operator could not tell
// which key was used, rotated or deleted. The in-memory test logger does not redact, which hid it.
describe('KMS audit lines through the process logger', () => {
  it('name the key of a transit call in key_name, unredacted', () => {
    const { lines, logger } = capture();
    const audit = kmsAudit(logger);
    audit({
      principal: 'admin',
      operation: 'transit.encrypt',
      key: 'orders',
      versions: [3],
      result: 'ok',
      batchSize: 1,
    });
    audit({ principal: 'anonymous', operation: 'transit.decrypt', key: 'payroll', result: 'ERR_KMS_FORBIDDEN' });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain('[redacted]');
    expect(JSON.parse(lines[0]!)).toMatchObject({ audit: true, component: 'kms', key_name: 'orders', versions: [3] });
    expect(JSON.parse(lines[1]!)).toMatchObject({ key_name: 'payroll', result: 'ERR_KMS_FORBIDDEN' });
  });

  it('name the key of every lifecycle event of the keyring', async () => {
    const { lines, logger } = capture();
    const parts = fixture();
    const keyring = await openKeyring({ ...parts, logger: logger as never });
    await keyring.createKey('orders');
    await keyring.rotateKey('orders');
    await keyring.configureKey('orders', { deletionAllowed: true });
    await keyring.deleteKey('orders');
    const events = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => /^kms\.key\./.test(String(l.event)));
    expect(events.map((e) => e.event)).toEqual([
      'kms.key.created',
      'kms.key.rotated',
      'kms.key.configured',
      'kms.key.deleted',
    ]);
    expect(events.every((e) => e.key_name === 'orders')).toBe(true);
    expect(lines.join('\n')).not.toContain('[redacted]');
  });
});
