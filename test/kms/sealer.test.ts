import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../src/core/index.js';
import { RootKey, Sealer, sealedFingerprint } from '../../src/kms/index.js';
import { SealerRing } from '../../src/kms/sealer.js';

function corrupt(fn: () => unknown): boolean {
  try {
    fn();
  } catch (err) {
    return isGatehouseError(err, 'ERR_SEAL_CORRUPT') && err.message === 'Sealed data failed authentication';
  }
  return false;
}

describe('Sealer', () => {
  const root = RootKey.generate();
  const sealer = new Sealer(root);
  const secret = Buffer.from('0123456789abcdef0123456789abcdef');
  const label = 'kms_key:orders:v3';

  it('seals into a compact versioned blob naming the root key, and opens it', () => {
    const blob = sealer.seal(secret, label);
    expect(blob).toMatch(/^gh1\.[0-9a-f]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealedFingerprint(blob)).toBe(root.fingerprint());
    expect(blob).not.toContain(secret.toString('base64url'));
    expect(sealer.open(blob, label).equals(secret)).toBe(true);
    expect(sealer.seal(secret, label)).not.toBe(blob);
  });

  it('refuses a blob moved to another record (wrong label)', () => {
    const blob = sealer.seal(secret, label);
    expect(corrupt(() => sealer.open(blob, 'kms_key:orders:v4'))).toBe(true);
    expect(corrupt(() => sealer.open(blob, 'kms_key:payments:v3'))).toBe(true);
  });

  it('refuses a blob sealed under another root key', () => {
    const other = new Sealer(RootKey.generate());
    expect(corrupt(() => other.open(sealer.seal(secret, label), label))).toBe(true);
  });

  it('refuses every single-character change, truncation and extension of a blob', () => {
    const blob = sealer.seal(secret, label);
    for (let i = 0; i < blob.length; i++) {
      const original = blob.charAt(i);
      const replacement = original === 'A' ? 'B' : 'A';
      const tampered = blob.slice(0, i) + replacement + blob.slice(i + 1);
      expect(corrupt(() => sealer.open(tampered, label))).toBe(true);
    }
    expect(corrupt(() => sealer.open(blob.slice(0, -1), label))).toBe(true);
    expect(corrupt(() => sealer.open(`${blob}A`, label))).toBe(true);
    expect(corrupt(() => sealer.open('', label))).toBe(true);
    expect(corrupt(() => sealer.open(blob.replace(/^gh1/, 'gh2'), label))).toBe(true);
  });

  it('refuses every flipped bit of the sealed bytes', () => {
    const blob = sealer.seal(Buffer.from('short'), label);
    const [head1, head2, body] = blob.split('.') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy.writeUInt8(copy.readUInt8(i) ^ 0x01, i);
      expect(corrupt(() => sealer.open(`${head1}.${head2}.${copy.toString('base64url')}`, label))).toBe(true);
    }
  });
});

/** The code and public message of what `fn` throws. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isGatehouseError(err) ? `${err.code}: ${err.message}` : String(err);
  }
  return 'no error';
}

describe('SealerRing', () => {
  const previous = RootKey.generate();
  const current = RootKey.generate();
  const label = 'kms_secret:pki/root/key';
  const secret = Buffer.from('ring secret');

  it("opens blobs under the current and the previous root key, picked by the blob's fingerprint", () => {
    const ring = new SealerRing(new Sealer(previous));
    const old = ring.seal(secret, label);
    ring.rotateTo(new Sealer(current));
    expect(ring.open(old, label).equals(secret)).toBe(true);
    expect(ring.open(ring.seal(secret, label), label).equals(secret)).toBe(true);
  });

  it('says a blob naming a root key it does not hold was sealed elsewhere, not altered', () => {
    const ring = new SealerRing(new Sealer(previous));
    const newer = new Sealer(current).seal(secret, label);
    expect(failure(() => ring.open(newer, label))).toBe(
      'ERR_ROOT_KEY_NOT_HELD: The data is sealed under a root key this process does not hold yet',
    );
    try {
      ring.open(newer, label);
    } catch (err) {
      expect(isGatehouseError(err) && err.status).toBe(503);
      expect(isGatehouseError(err) && err.detail).toContain(current.fingerprint());
    }
  });

  it('keeps ERR_SEAL_CORRUPT for real damage: malformed blobs and blobs that fail under the key they name', () => {
    const ring = new SealerRing(new Sealer(previous));
    const blob = ring.seal(secret, label);
    const corruptMessage = 'ERR_SEAL_CORRUPT: Sealed data failed authentication';
    expect(failure(() => ring.open(blob, 'kms_secret:other'))).toBe(corruptMessage);
    expect(failure(() => ring.open(blob.slice(0, -2), label))).toBe(corruptMessage);
    expect(failure(() => ring.open('not a blob', label))).toBe(corruptMessage);
    expect(failure(() => ring.open(blob.replace(/^gh1/, 'gh2'), label))).toBe(corruptMessage);
    expect(failure(() => ring.open(blob.replace(/^gh1\.[0-9a-f]{16}/, 'gh1.zz'), label))).toBe(corruptMessage);
  });
});
