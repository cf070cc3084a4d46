import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FsObjectFiles, MemoryRecordStore } from '../../../src/adapters/index.js';
import { ManualClock, MemoryLogger } from '../../../src/core/index.js';
import { ObjectRewrap, ObjectStore, objectRecordKey, type ObjectRecord } from '../../../src/kms/index.js';
import { tempDir } from '../../support/tmp.js';
import { FakeCipher } from './fake_cipher.js';
import { codeOf } from '../../support/error_code.js';

const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

function setup() {
  const tmp = tempDir('gh-objects-');
  dirs.push(tmp);
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const records = new MemoryRecordStore({ clock });
  const files = new FsObjectFiles(join(tmp.dir, 'objects'));
  const cipher = new FakeCipher(1000);
  const logger = new MemoryLogger();
  const store = new ObjectStore({ records, files, cipher, clock, logger });
  const rewrap = new ObjectRewrap({ store, records, files, cipher, clock, logger });
  return { root: join(tmp.dir, 'objects'), records, files, cipher, store, rewrap };
}

async function collect(readable: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    readable,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

describe('ObjectStore', () => {
  it('round-trips objects of 0, 1 and many segments under keys with slashes and unicode', async () => {
    const { store } = setup();
    for (const [key, size] of [
      ['empty', 0],
      ['one', 1],
      ['a/b/c.bin', 2500],
      ['ünïcødé/東京/😀.txt', 10_001],
    ] as const) {
      const data = randomBytes(size);
      const info = await store.put('docs', key, Readable.from([data]));
      expect(info).toMatchObject({ bucket: 'docs', key, size, keyName: 'bucket-docs', keyVersion: 1 });
      expect(await store.verify('docs', key)).toMatchObject({ size });
      expect((await collect((await store.read('docs', key)).plaintext)).equals(data)).toBe(true);
    }
    const listed = await store.list('docs', { prefix: 'a/' });
    expect(listed.map((o) => o.key)).toEqual(['a/b/c.bin']);
    expect((await store.list('docs')).length).toBe(4);
  });

  it('replaces an object atomically, removing the old file, and removes objects', async () => {
    const { store, root } = setup();
    await store.put('b1', 'k', Readable.from([Buffer.from('first')]));
    await store.put('b1', 'k', Readable.from([Buffer.from('second')]));
    expect(readdirSync(join(root, 'b1'))).toHaveLength(1);
    expect((await collect((await store.read('b1', 'k')).plaintext)).toString()).toBe('second');
    await store.remove('b1', 'k');
    expect(readdirSync(join(root, 'b1'))).toHaveLength(0);
    expect(await codeOf(store.stat('b1', 'k'))).toBe('ERR_OBJECT_NOT_FOUND');
    expect(await codeOf(store.list('nope'))).toBe('ERR_OBJECT_NOT_FOUND');
  });

  it('refuses bad bucket names and keys', async () => {
    const { store } = setup();
    expect(await codeOf(store.put('Bad_Name', 'k', Readable.from([])))).toBe('ERR_OBJECT_NAME_INVALID');
    expect(await codeOf(store.put('ok', '', Readable.from([])))).toBe('ERR_OBJECT_NAME_INVALID');
    expect(await codeOf(store.put('ok', 'a\0b', Readable.from([])))).toBe('ERR_OBJECT_NAME_INVALID');
    expect(await codeOf(store.put('ok', 'x'.repeat(1025), Readable.from([])))).toBe('ERR_OBJECT_NAME_INVALID');
  });

  it('binds each object to its bucket and key: a file copied over another object fails to read', async () => {
    const { store, records, root } = setup();
    await store.put('b1', 'alice', Readable.from([Buffer.from('alice secret')]));
    await store.put('b1', 'bob', Readable.from([Buffer.from('bob secret')]));
    const file = async (key: string) =>
      (await records.get<ObjectRecord>('kms_objects', objectRecordKey('b1', key)))!.value.fileName;
    copyFileSync(join(root, 'b1', await file('alice')), join(root, 'b1', await file('bob')));
    expect(await codeOf(store.verify('b1', 'bob'))).toBe('ERR_KMS_DECRYPT_FAILED');
    expect(await codeOf(collect((await store.read('b1', 'bob')).plaintext))).toBe('ERR_KMS_DECRYPT_FAILED');
  });

  it('detects a flipped byte', async () => {
    const { store, records, root } = setup();
    await store.put('b1', 'k', Readable.from([randomBytes(5000)]));
    const rec = await records.get<ObjectRecord>('kms_objects', objectRecordKey('b1', 'k'));
    const path = join(root, 'b1', rec!.value.fileName);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    writeFileSync(path, bytes);
    expect(await codeOf(store.verify('b1', 'k'))).toBe('ERR_KMS_DECRYPT_FAILED');
  });

  it('a failed put leaves the old object and no temp file', async () => {
    const { store, root } = setup();
    await store.put('b1', 'k', Readable.from([Buffer.from('old')]));
    const failing = new Readable({
      read() {
        this.push(randomBytes(3000));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(store.put('b1', 'k', failing)).rejects.toThrow('client went away');
    expect(readdirSync(join(root, 'b1'))).toHaveLength(1);
    expect((await collect((await store.read('b1', 'k')).plaintext)).toString()).toBe('old');
  });

  it('recover removes temp files and files no metadata points to', async () => {
    const { store, root } = setup();
    await store.put('b1', 'k', Readable.from([Buffer.from('kept')]));
    writeFileSync(join(root, 'b1', '.tmp-abandoned'), 'partial');
    writeFileSync(join(root, 'b1', 'deadbeef.xyz.obj'), 'orphan');
    expect(await store.recover()).toEqual({ temps: 1, orphans: 1 });
    expect(readdirSync(join(root, 'b1'))).toHaveLength(1);
    expect((await collect((await store.read('b1', 'k')).plaintext)).toString()).toBe('kept');
  });
});

describe('ObjectStore.hold', () => {
  it('keeps replaced and removed files on disk until the last hold is released', async () => {
    const { store, root } = setup();
    await store.put('b1', 'k', Readable.from([Buffer.from('v1')]));
    await store.put('b1', 'gone', Readable.from([Buffer.from('x')]));
    const release = store.hold();
    const inner = store.hold();
    await store.put('b1', 'k', Readable.from([Buffer.from('v2')]));
    await store.remove('b1', 'gone');
    expect(readdirSync(join(root, 'b1'))).toHaveLength(3);
    await inner();
    expect(readdirSync(join(root, 'b1'))).toHaveLength(3);
    await release();
    await release();
    expect(readdirSync(join(root, 'b1'))).toHaveLength(1);
    expect((await collect((await store.read('b1', 'k')).plaintext)).toString()).toBe('v2');
  });
});

describe('ObjectRewrap', () => {
  it('rewraps only the header of objects under older versions, skips current ones, and reports', async () => {
    const { store, cipher, rewrap, records, root } = setup();
    const data = new Map<string, Buffer>();
    for (let i = 0; i < 5; i += 1) {
      data.set(`k${i}`, randomBytes(1500));
      await store.put('b1', `k${i}`, Readable.from([data.get(`k${i}`)!]));
    }
    cipher.rotate('bucket-b1');
    await store.put('b1', 'k0', Readable.from([data.get('k0')!]));
    const before = await records.get<ObjectRecord>('kms_objects', objectRecordKey('b1', 'k3'));
    const oldPayload = readFileSync(join(root, 'b1', before!.value.fileName)).subarray(-1500);
    const progress: number[] = [];
    const report = await rewrap.run('b1', (p) => progress.push(p.done));
    expect(report).toMatchObject({ total: 5, done: 5, rewrapped: 4, skipped: 1, failed: 0, targetVersion: 2 });
    expect(progress.at(-1)).toBe(5);
    const after = await records.get<ObjectRecord>('kms_objects', objectRecordKey('b1', 'k3'));
    expect(after!.value.keyVersion).toBe(2);
    expect(
      readFileSync(join(root, 'b1', after!.value.fileName))
        .subarray(-1500)
        .equals(oldPayload),
    ).toBe(true);
    for (const [key, bytes] of data) {
      expect((await collect((await store.read('b1', key)).plaintext)).equals(bytes)).toBe(true);
    }
    expect(readdirSync(join(root, 'b1'))).toHaveLength(5);
    const again = await rewrap.run('b1');
    expect(again).toMatchObject({ rewrapped: 0, skipped: 5, resumed: false });
  });

  it('resumes from the saved cursor after an interruption', async () => {
    const { store, cipher, rewrap, records } = setup();
    for (let i = 0; i < 6; i += 1) await store.put('b1', `k${i}`, Readable.from([randomBytes(100)]));
    cipher.rotate('bucket-b1');
    let seen = 0;
    await expect(
      rewrap.run('b1', () => {
        seen += 1;
        if (seen === 4) throw new Error('crash');
      }),
    ).rejects.toThrow('crash');
    const job = await rewrap.job('b1');
    expect(job).toMatchObject({ state: 'running', rewrapped: 3 });
    const report = await rewrap.run('b1');
    expect(report).toMatchObject({ resumed: true, total: 6, done: 6, rewrapped: 6, skipped: 0 });
    for (const rec of await records.list<ObjectRecord>('kms_objects')) expect(rec.value.keyVersion).toBe(2);
  });

  it('refuses a second rewrap of the same bucket while one runs', async () => {
    const { store, cipher, rewrap } = setup();
    for (let i = 0; i < 3; i += 1) await store.put('b1', `k${i}`, Readable.from([randomBytes(10)]));
    cipher.rotate('bucket-b1');
    let second: Promise<unknown> | undefined;
    const report = await rewrap.run('b1', () => {
      second ??= rewrap.run('b1').then(
        () => undefined,
        (err: unknown) => err,
      );
    });
    expect(report.rewrapped).toBe(3);
    expect(await second).toMatchObject({ code: 'ERR_LEASE_HELD' });
  });

  it('stops at the first object that does not decrypt, naming it', async () => {
    const { store, cipher, rewrap, records, root } = setup();
    await store.put('b1', 'good', Readable.from([Buffer.from('x')]));
    await store.put('b1', 'evil/one', Readable.from([Buffer.from('y')]));
    const victim = await records.get<ObjectRecord>('kms_objects', objectRecordKey('b1', 'evil/one'));
    const good = await records.get<ObjectRecord>('kms_objects', objectRecordKey('b1', 'good'));
    copyFileSync(join(root, 'b1', good!.value.fileName), join(root, 'b1', victim!.value.fileName));
    cipher.rotate('bucket-b1');
    await expect(rewrap.run('b1')).rejects.toThrow(/object b1\/evil\/one did not decrypt/);
    expect(await rewrap.job('b1')).toMatchObject({ state: 'failed' });
  });
});
