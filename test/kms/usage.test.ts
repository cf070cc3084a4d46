import { describe, expect, it } from 'vitest';
import { UsageReservations } from '../../src/kms/index.js';
import { codeOf, fixture, openKeyring } from './keyring_fixture.js';

async function encryptions(keyring: Awaited<ReturnType<typeof openKeyring>>, name: string): Promise<number[]> {
  return (await keyring.getKey(name)).versions.map((v) => v.encryptions);
}

describe('usage reservation', () => {
  it('reserves whole blocks durably before handing uses out', async () => {
    const { store } = fixture();
    const usage = new UsageReservations(store, { block: 10, max: 1_000 });
    expect(await usage.take('k:v1')).toBe(true);
    expect(await store.counter('kms_usage', 'k:v1')).toBe(10);
    for (let i = 0; i < 9; i++) await usage.take('k:v1');
    expect(await store.counter('kms_usage', 'k:v1')).toBe(10);
    await usage.take('k:v1');
    expect(await store.counter('kms_usage', 'k:v1')).toBe(20);
  });

  it('after a crash the durable count is at least the true count and at most one block above', async () => {
    const parts = fixture();
    const first = await openKeyring(parts, { usageBlock: 10 });
    await first.createKey('orders');
    for (let i = 0; i < 23; i++) await first.encryptionKey('orders');
    // "Crash": drop the keyring without close(); a new process opens the same store.
    const second = await openKeyring(parts, { usageBlock: 10 });
    const [count] = await encryptions(second, 'orders');
    expect(count).toBeGreaterThanOrEqual(23);
    expect(count).toBeLessThanOrEqual(23 + 10);
    for (let i = 0; i < 5; i++) await second.encryptionKey('orders');
    const [after] = await encryptions(second, 'orders');
    expect(after).toBeGreaterThanOrEqual(28);
    expect(after).toBeLessThanOrEqual(28 + 2 * 10);
  });

  it('gives back unused reservations on close, so the count is exact', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts, { usageBlock: 10 });
    await keyring.createKey('orders');
    for (let i = 0; i < 13; i++) await keyring.encryptionKey('orders');
    await keyring.close();
    const reopened = await openKeyring(parts);
    expect(await encryptions(reopened, 'orders')).toEqual([13]);
  });

  it('serializes concurrent takes in one process: one block per block of uses', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts, { usageBlock: 10 });
    await keyring.createKey('orders');
    await Promise.all(Array.from({ length: 30 }, () => keyring.encryptionKey('orders')));
    expect(await encryptions(keyring, 'orders')).toEqual([30]);
  });
});

describe('automatic rotation at the usage limit', () => {
  it('rotates before a version passes maxEncryptionsPerVersion, and logs it', async () => {
    const parts = fixture();
    const keyring = await openKeyring(parts, { usageBlock: 10, maxEncryptionsPerVersion: 25 });
    await keyring.createKey('orders');
    const versions: number[] = [];
    for (let i = 0; i < 60; i++) versions.push((await keyring.encryptionKey('orders')).version);
    expect(versions.filter((v) => v === 1)).toHaveLength(25);
    expect(versions.filter((v) => v === 2)).toHaveLength(25);
    expect(versions.filter((v) => v === 3)).toHaveLength(10);
    expect((await keyring.getKey('orders')).latestVersion).toBe(3);
    const rotations = parts.logger.lines.filter((l) => l.event === 'kms.key.rotated');
    expect(rotations.map((l) => [l.key_name, l.version, l.reason])).toEqual([
      ['orders', 2, 'usage limit'],
      ['orders', 3, 'usage limit'],
    ]);
  });

  it('works with a block larger than the limit', async () => {
    const keyring = await openKeyring(fixture(), { usageBlock: 100, maxEncryptionsPerVersion: 3 });
    await keyring.createKey('orders');
    const versions: number[] = [];
    for (let i = 0; i < 7; i++) versions.push((await keyring.encryptionKey('orders')).version);
    expect(versions).toEqual([1, 1, 1, 2, 2, 2, 3]);
  });

  it('refuses an explicitly requested version that has reached the limit', async () => {
    const keyring = await openKeyring(fixture(), { usageBlock: 2, maxEncryptionsPerVersion: 2 });
    await keyring.createKey('orders');
    await keyring.encryptionKey('orders', { version: 1 });
    await keyring.encryptionKey('orders', { version: 1 });
    expect(await codeOf(keyring.encryptionKey('orders', { version: 1 }))).toBe('ERR_KMS_VERSION_INVALID');
    expect((await keyring.encryptionKey('orders')).version).toBe(2);
  });

  it('never hands out more than the limit per version across processes sharing a store', async () => {
    const parts = fixture();
    const a = await openKeyring(parts, { usageBlock: 4, maxEncryptionsPerVersion: 10 });
    const b = await openKeyring(parts, { usageBlock: 4, maxEncryptionsPerVersion: 10 });
    await a.createKey('orders');
    const perVersion = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const { version } = await (i % 3 === 0 ? b : a).encryptionKey('orders');
      perVersion.set(version, (perVersion.get(version) ?? 0) + 1);
    }
    for (const count of perVersion.values()) expect(count).toBeLessThanOrEqual(10);
    const info = await a.getKey('orders');
    expect(info.latestVersion).toBe(perVersion.size);
    expect(info.versions.length).toBe(perVersion.size);
  });
});
