import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../src/core/index.js';
import { RootKey } from '../../src/kms/index.js';

const BYTES = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

function invalid(text: string): boolean {
  try {
    RootKey.parse(text);
  } catch (err) {
    return isGatehouseError(err, 'ERR_ROOT_KEY_INVALID') && !err.message.includes(text.trim() || '\u0000');
  }
  return false;
}

describe('RootKey.parse', () => {
  it('accepts 64 hex digits, base64 and base64url of 32 bytes, with surrounding whitespace', () => {
    const expected = RootKey.fromBytes(BYTES);
    for (const text of [
      BYTES.toString('hex'),
      BYTES.toString('hex').toUpperCase(),
      BYTES.toString('base64'),
      BYTES.toString('base64').replace(/=$/, ''),
      BYTES.toString('base64url'),
      `  ${BYTES.toString('base64')}\n`,
    ]) {
      const root = RootKey.parse(text);
      expect(root.equals(expected)).toBe(true);
      expect(root.fingerprint()).toBe(expected.fingerprint());
    }
  });

  it('refuses anything else with ERR_ROOT_KEY_INVALID without echoing the input', () => {
    const b64 = BYTES.toString('base64');
    for (const text of [
      '',
      'ab'.repeat(31),
      'ab'.repeat(33),
      'zz'.repeat(32),
      Buffer.alloc(31, 7).toString('base64'),
      Buffer.alloc(33, 7).toString('base64'),
      `${b64}=`,
      `${b64.slice(0, 42)}B=`, // non-canonical trailing bits
      'correct horse battery staple',
    ]) {
      expect(invalid(text)).toBe(true);
    }
    expect(() => RootKey.fromBytes(Buffer.alloc(16))).toThrow(/malformed/);
  });
});

describe('RootKey', () => {
  it('round-trips through toText and tells keys apart', () => {
    const root = RootKey.generate();
    expect(RootKey.parse(root.toText()).equals(root)).toBe(true);
    expect(root.equals(RootKey.generate())).toBe(false);
  });

  it('has a short fingerprint that is not part of the key', () => {
    const root = RootKey.fromBytes(BYTES);
    expect(root.fingerprint()).toMatch(/^[0-9a-f]{16}$/);
    expect(BYTES.toString('hex')).not.toContain(root.fingerprint());
    expect(RootKey.generate().fingerprint()).not.toBe(root.fingerprint());
  });

  it('never shows its bytes in string, JSON or inspect output', () => {
    const root = RootKey.fromBytes(BYTES);
    const shown = [String(root), `${root}`, JSON.stringify({ root }), inspect(root), inspect({ nested: root })];
    for (const text of shown) {
      expect(text).toContain(`RootKey(${root.fingerprint()})`);
      expect(text).not.toContain(BYTES.toString('hex'));
      expect(text).not.toContain(BYTES.toString('base64').slice(0, 20));
    }
    expect(Object.keys(root)).toEqual([]);
  });
});
