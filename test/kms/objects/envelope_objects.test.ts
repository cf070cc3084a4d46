import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FsObjectFiles } from '../../../src/adapters/index.js';
import {
  EnvelopeObjectCipher,
  Envelopes,
  ObjectRewrap,
  ObjectStore,
  objectRecordKey,
  type ObjectRecord,
} from '../../../src/kms/index.js';
import { tempDir } from '../../support/tmp.js';
import { fixture, openKeyring } from '../keyring_fixture.js';

const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

describe('ObjectStore on the KMS envelopes', () => {
  it('streams 1 MiB through real stream envelopes, binds the context, rewraps after a rotation', async () => {
    const tmp = tempDir('gh-objects-');
    dirs.push(tmp);
    const f = fixture();
    const keyring = await openKeyring(f);
    const cipher = new EnvelopeObjectCipher(new Envelopes({ keys: keyring, clock: f.clock }), keyring, 4096);
    const files = new FsObjectFiles(join(tmp.dir, 'objects'));
    const store = new ObjectStore({ records: f.store, files, cipher, clock: f.clock, logger: f.logger });
    const data = randomBytes(1024 * 1024);
    const info = await store.put('media', 'clips/ä.bin', Readable.from([data]));
    expect(info).toMatchObject({ size: data.length, keyName: 'bucket-media', keyVersion: 1 });
    expect((await keyring.getKey('bucket-media')).latestVersion).toBe(1);
    const { plaintext } = await store.read('media', 'clips/ä.bin');
    const chunks: Buffer[] = [];
    for await (const chunk of plaintext) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);

    await store.put('media', 'note', Readable.from([Buffer.from('hello')]));
    await keyring.rotateKey('bucket-media');
    const report = await new ObjectRewrap({
      store,
      files,
      cipher,
      records: f.store,
      clock: f.clock,
      logger: f.logger,
    }).run('media');
    expect(report).toMatchObject({ total: 2, rewrapped: 2, skipped: 0, targetVersion: 2 });
    await keyring.configureKey('bucket-media', { minDecryptionVersion: 2 });
    expect(await text((await store.read('media', 'note')).plaintext)).toBe('hello');
    expect((await store.verify('media', 'clips/ä.bin')).keyVersion).toBe(2);

    const rec = await f.store.get<ObjectRecord>('kms_objects', objectRecordKey('media', 'note'));
    const path = join(tmp.dir, 'objects', 'media', rec!.value.fileName);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x80;
    writeFileSync(path, bytes);
    await expect(store.verify('media', 'note')).rejects.toMatchObject({ code: 'ERR_KMS_DECRYPT_FAILED' });
  });
});
