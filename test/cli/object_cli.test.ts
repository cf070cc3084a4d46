import { copyFileSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingAdminClient } from '../../src/cli/object_client.js';
import { tempDir } from '../support/tmp.js';
import { gatehouse, kill9, up } from './object_support.js';

// The object store as a user types it, against a real `gatehouse up` process (built CLI in dist/).
describe('gatehouse object', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-objcli-');
  const dir = join(tmp.dir, 'data');
  let child: ChildProcess;

  beforeAll(async () => {
    child = (await up(dir)).child;
  });
  afterAll(async () => {
    await kill9(child);
    tmp.remove();
  });

  const gh = (args: string[], stdinFile?: string) =>
    gatehouse([...args, '--data-dir', dir], stdinFile === undefined ? {} : { stdinFile });
  const input = (name: string, bytes: Buffer) => {
    const file = join(tmp.dir, name);
    writeFileSync(file, bytes);
    return file;
  };
  const objectFiles = (bucket: string) =>
    readdirSync(join(dir, 'objects', bucket)).filter((name) => !name.startsWith('.'));

  it('round-trips 0 B, 1 B, 1 MiB and 20 MiB through put and get, to stdout and to --out', async () => {
    for (const size of [0, 1, 1024 * 1024, 20 * 1024 * 1024]) {
      const data = randomBytes(size);
      const put = await gh(['object', 'put', `sizes/obj-${size}`], input(`in-${size}`, data));
      expect(put.code, put.stderr).toBe(0);
      expect(put.stdout.toString()).toContain(`stored sizes/obj-${size} (${size} bytes, key bucket-sizes v1)`);
      const got = await gh(['object', 'get', `sizes/obj-${size}`]);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout.equals(data)).toBe(true);
      if (size === 1024 * 1024) {
        const out = join(tmp.dir, 'out.bin');
        expect((await gh(['object', 'get', `sizes/obj-${size}`, '--out', out])).code).toBe(0);
        expect(readFileSync(out).equals(data)).toBe(true);
      }
    }
    const listed = await gh(['object', 'ls', 'sizes', '--json']);
    const objects = (JSON.parse(listed.stdout.toString()) as { objects: Array<{ key: string; size: number }> }).objects;
    expect(objects.map((o) => o.size)).toEqual([0, 1, 1024 * 1024, 20 * 1024 * 1024]);
  });

  // `object get --json` used to write the raw object; a missing --in FILE gave a raw ENOENT.
  it('with --json prints one JSON document (base64 data, or file and size with --out)', async () => {
    const data = randomBytes(70_001);
    expect((await gh(['object', 'put', 'json/a.bin'], input('json-in', data))).code).toBe(0);
    const got = await gh(['object', 'get', 'json/a.bin', '--json']);
    expect(got.code, got.stderr).toBe(0);
    expect(Buffer.from((JSON.parse(got.stdout.toString()) as { data: string }).data, 'base64').equals(data)).toBe(true);
    const out = join(tmp.dir, 'json-out.bin');
    const toFile = await gh(['object', 'get', 'json/a.bin', '--out', out, '--json']);
    expect(JSON.parse(toFile.stdout.toString())).toEqual({ file: out, bytes: data.length });
    const missing = await gh(['object', 'get', 'json/none', '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stdout.length).toBe(0);
    const noFile = await gh(['object', 'put', 'json/b.bin', '--in', join(tmp.dir, 'absent')]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toBe(`gatehouse: --in ${join(tmp.dir, 'absent')}: no such file\n`);
  });

  it('keeps keys with slashes and unicode, lists by prefix, removes', async () => {
    const keys = ['a/b/c.txt', 'a/ü/東京 😀.txt', 'b'];
    for (const key of keys) {
      expect(
        (await gh(['object', 'put', `names/${key}`, '--key', 'names-key'], input('n', Buffer.from(key)))).code,
      ).toBe(0);
    }
    for (const key of keys) expect((await gh(['object', 'get', `names/${key}`])).stdout.toString()).toBe(key);
    const ls = await gh(['object', 'ls', 'names/a/']);
    expect(
      ls.stdout
        .toString()
        .trim()
        .split('\n')
        .map((line) => line.split('\t')[2]),
    ).toEqual(keys.slice(0, 2));
    const buckets = await gh(['object', 'ls']);
    expect(buckets.stdout.toString()).toContain('names  key names-key');
    const rm = await gh(['object', 'rm', 'names/a/b/c.txt']);
    expect(rm.stdout.toString()).toContain('removed names/a/b/c.txt');
    const gone = await gh(['object', 'get', 'names/a/b/c.txt']);
    expect(gone.code).toBe(1);
    expect(gone.stdout.length).toBe(0);
    expect(gone.stderr).toContain('No such object');
    expect(objectFiles('names')).toHaveLength(2);
  });

  it('binds objects to their names: a file copied over another object fails, nothing on stdout', async () => {
    expect((await gh(['object', 'put', 'bind/alice'], input('a', Buffer.from('alice data')))).code).toBe(0);
    expect((await gh(['object', 'put', 'bind/bob'], input('b', Buffer.from('bob data')))).code).toBe(0);
    const [first, second] = objectFiles('bind');
    copyFileSync(join(dir, 'objects', 'bind', first!), join(dir, 'objects', 'bind', second!));
    const results = [await gh(['object', 'get', 'bind/alice']), await gh(['object', 'get', 'bind/bob'])];
    const failed = results.filter((r) => r.code !== 0);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.stdout.length).toBe(0);
    expect(failed[0]!.stderr).toContain('Decryption failed');
  });

  it('a flipped byte: get fails with nothing on stdout, and a raw HTTP download is aborted, not ended', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    expect((await gh(['object', 'put', 'tamper/x'], input('t', data))).code).toBe(0);
    const [file] = objectFiles('tamper');
    const path = join(dir, 'objects', 'tamper', file!);
    const bytes = readFileSync(path);
    const at = bytes.length - 1000;
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    writeFileSync(path, bytes);

    const got = await gh(['object', 'get', 'tamper/x']);
    expect(got.code).toBe(1);
    expect(got.stdout.length).toBe(0);
    const out = join(tmp.dir, 'tampered.out');
    // `--out` used to stream without verifying first and failed with undici's bare "other side closed".
    const toFile = await gh(['object', 'get', 'tamper/x', '--out', out]);
    expect(toFile.code).toBe(1);
    expect(toFile.stderr).toBe('gatehouse: Decryption failed\n');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.dir).filter((n) => n.includes('tampered'))).toEqual([]);

    const client = StreamingAdminClient.connect(dir);
    try {
      const answer = await client.send('GET', '/v1/objects/tamper/x');
      expect(answer.statusCode).toBe(200);
      let received = 0;
      await expect(
        (async () => {
          for await (const chunk of answer.body) received += (chunk as Buffer).length;
        })(),
      ).rejects.toThrow();
      expect(received).toBeLessThan(data.length);
      await expect(client.json('GET', '/v1/objects/tamper/x?verify=only')).rejects.toMatchObject({
        code: 'ERR_KMS_DECRYPT_FAILED',
      });
      await expect(client.json('PUT', '/v1/objects/Bad!/x', Readable.from([]))).rejects.toMatchObject({
        code: 'ERR_OBJECT_NAME_INVALID',
      });
    } finally {
      await client.close();
    }
  });
});
