import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { create, extract } from 'tar';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, exitOf } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { RootKey } from '../../src/kms/index.js';
import { collect, gatehouse, kill9, up } from './object_support.js';

// Backup from a running gatehouse, restore into a fresh data directory, start with the root key supplied separately.
describe('gatehouse backup / restore', { timeout: 120_000 }, () => {
  const tmp = tempDir('gh-backup-');
  const source = join(tmp.dir, 'source');
  const target = join(tmp.dir, 'target');
  const archive = join(tmp.dir, 'backup.tar');
  const rootKeyFile = join(tmp.dir, 'root.key');
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) await kill9(child);
    tmp.remove();
  });
  const file = (name: string, bytes: Buffer | string) => {
    const path = join(tmp.dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  /** The text of the manifest and records entries of an archive (objects left out). */
  const unpack = async (archiveFile: string): Promise<Record<string, string>> => {
    const into = join(tmp.dir, `unpacked-${randomBytes(4).toString('hex')}`);
    mkdirSync(into);
    await extract({ file: archiveFile, cwd: into });
    return Object.fromEntries(
      ['manifest.json', 'records.jsonl'].map((name) => [name, readFileSync(join(into, name), 'utf8')]),
    );
  };
  /** An archive of the manifest and records given, plus the objects of the original archive. */
  const repack = async (entries: Record<string, string>): Promise<string> => {
    const from = join(tmp.dir, `repack-${randomBytes(4).toString('hex')}`);
    mkdirSync(from);
    await extract({ file: archive, cwd: from });
    for (const [name, text] of Object.entries(entries)) writeFileSync(join(from, name), text);
    const out = join(tmp.dir, `${basename(from)}.tar`);
    await create({ cwd: from, file: out, portable: true }, readdirSync(from));
    return out;
  };
  const big = randomBytes(1024 * 1024);
  const marker = `known plaintext ${randomBytes(8).toString('hex')}`;

  it('backs up a running gatehouse: no root key and no plaintext in the archive', async () => {
    const server = await up(source);
    children.push(server.child);
    const gh = (args: string[], stdinFile?: string) =>
      gatehouse([...args, '--data-dir', source], stdinFile === undefined ? {} : { stdinFile });
    expect((await gh(['object', 'put', 'docs/known.txt'], file('known', marker))).code).toBe(0);
    expect((await gh(['object', 'put', 'docs/ü/big.bin'], file('big', big))).code).toBe(0);
    expect((await gh(['kms', 'key', 'create', 'orders'])).code).toBe(0);
    const sealed = await gh(['kms', 'encrypt', '--key', 'orders', '--context', 'tenant=acme'], file('p', marker));
    expect(sealed.code, sealed.stderr).toBe(0);
    file('sealed.bin', sealed.stdout);

    const backup = await gh(['backup', '--out', archive, '--json']);
    expect(backup.code, backup.stderr).toBe(0);
    expect(JSON.parse(backup.stdout.toString())).toMatchObject({ file: archive, objects: 2 });

    const bytes = readFileSync(archive);
    const rootText = readFileSync(join(source, 'root.key'), 'utf8').trim();
    expect(bytes.includes(Buffer.from(rootText))).toBe(false);
    expect(bytes.includes(Buffer.from(rootText, 'base64'))).toBe(false);
    expect(bytes.includes(Buffer.from(marker))).toBe(false);
    expect(bytes.includes(Buffer.from(readFileSync(join(source, 'admin.token'), 'utf8').trim()))).toBe(false);
    expect(bytes.includes(big.subarray(0, 64))).toBe(false);

    // An object file gone from the data directory made the backup fail with a bare 500 "Internal error".
    const [objectFile] = readdirSync(join(source, 'objects', 'docs'));
    const objectPath = join(source, 'objects', 'docs', objectFile!);
    renameSync(objectPath, join(tmp.dir, 'aside.obj'));
    const damaged = await gh(['backup', '--out', join(tmp.dir, 'damaged.tar')]);
    renameSync(join(tmp.dir, 'aside.obj'), objectPath);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(
      `objects/docs/${objectFile!}, the file of an object, is missing; no backup was written`,
    );
    expect(existsSync(join(tmp.dir, 'damaged.tar'))).toBe(false);
    expect(readdirSync(source).filter((name) => name.startsWith('.backup-'))).toEqual([]);

    // A write that fails half way (here a file size limit; a full disk alike) used to print a bare "EFBIG"/"ENOSPC".
    const limited = await collect(
      spawn(
        'sh',
        [
          '-c',
          'ulimit -f 64 && exec "$0" "$@"',
          process.execPath,
          CLI,
          'backup',
          '--out',
          join(tmp.dir, 'cut.tar'),
          '--data-dir',
          source,
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    expect(limited.code).toBe(1);
    expect(limited.stderr).toBe(
      `gatehouse: cannot write ${join(tmp.dir, 'cut.tar')}: the file grew larger than this process may write (ulimit -f)\n`,
    );
    expect(readdirSync(tmp.dir).filter((name) => name.includes('cut.tar'))).toEqual([]);

    const running = await gatehouse(['restore', archive, '--data-dir', source]);
    expect(running.code).toBe(1);
    expect(running.stderr).toContain(`a gatehouse is running on ${source}`);

    server.child.kill('SIGTERM');
    await exitOf(server.child);
    renameSync(join(source, 'root.key'), rootKeyFile);
  });

  it('refuses a tampered archive and an initialized data directory', async () => {
    const bytes = readFileSync(archive);
    const at = bytes.indexOf(Buffer.from('"kind":"record"')) + 20;
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    const tampered = file('tampered.tar', bytes);
    const refused = await gatehouse(['restore', tampered, '--data-dir', join(tmp.dir, 'never')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('The backup archive is invalid: records.jsonl does not match its SHA-256');
    expect(existsSync(join(tmp.dir, 'never', 'gatehouse.json'))).toBe(false);

    const truncated = file('truncated.tar', readFileSync(archive).subarray(0, 3000));
    expect((await gatehouse(['restore', truncated, '--data-dir', join(tmp.dir, 'never2')])).code).toBe(1);

    // the same rewrite with the SHA-256 fixed in the manifest passes the hashes, but not the HMAC
    const entries = await unpack(tampered);
    const manifest = JSON.parse(entries['manifest.json'] as string) as { entries: Record<string, string> };
    manifest.entries['records.jsonl'] = createHash('sha256')
      .update(entries['records.jsonl'] as string)
      .digest('hex');
    const rewritten = await repack({ ...entries, 'manifest.json': JSON.stringify(manifest) });
    const forged = await gatehouse(['restore', rewritten, '--data-dir', join(tmp.dir, 'never3')], {
      env: { GATEHOUSE_ROOT_KEY: readFileSync(rootKeyFile, 'utf8').trim() },
    });
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain('manifest.json is not authentic');

    // a genuine archive without the root key: refused unless the operator trusts the archive storage explicitly
    const unauthenticated = await gatehouse(['restore', archive, '--data-dir', join(tmp.dir, 'never4')]);
    expect(unauthenticated.code).toBe(1);
    expect(unauthenticated.stderr).toContain('cannot be authenticated without the root key');
    expect(unauthenticated.stderr).toContain('--allow-unauthenticated');
    expect(existsSync(join(tmp.dir, 'never4', 'gatehouse.json'))).toBe(false);

    const initialized = await gatehouse(['restore', archive, '--data-dir', source]);
    expect(initialized.code).toBe(1);
    expect(initialized.stderr).toContain('already an initialized data directory');
  });

  // A missing archive was ERR_BACKUP_INVALID "not a readable tar archive (ENOENT)", after creating the directory.
  it('refuses an archive that cannot be read before touching the data directory', async () => {
    const missing = await gatehouse(['restore', join(tmp.dir, 'absent.tar'), '--data-dir', join(tmp.dir, 'never5')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`gatehouse: backup archive ${join(tmp.dir, 'absent.tar')}: no such file\n`);
    expect(existsSync(join(tmp.dir, 'never5'))).toBe(false);
    const directory = await gatehouse(['restore', tmp.dir, '--data-dir', join(tmp.dir, 'never6')]);
    expect(directory.stderr).toBe(`gatehouse: backup archive ${tmp.dir}: not a regular file\n`);
  });

  // `gatehouse up --root-key-file F` opens data sealed under the F.next of a root rotation that never renamed it;
  // restore refused the same F with ERR_ROOT_KEY_WRONG.
  it("authenticates with the .next beside --root-key-file when the backup was taken under that unfinished rotation's key", async () => {
    const before = join(tmp.dir, 'before-rotation.key');
    writeFileSync(before, RootKey.generate().toText() + '\n', { mode: 0o600 });
    const other = await gatehouse([
      'restore',
      archive,
      '--data-dir',
      join(tmp.dir, 'never7'),
      '--root-key-file',
      before,
    ]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('the backup was taken under root key');
    writeFileSync(`${before}.next`, readFileSync(rootKeyFile), { mode: 0o600 });
    const into = join(tmp.dir, 'from-next');
    const restored = await gatehouse(['restore', archive, '--data-dir', into, '--root-key-file', before, '--json']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout.toString())).toMatchObject({ authenticated: true });
    expect(restored.stderr).toContain('unfinished root rotation');
  });

  // A restore killed after moving files in left a directory without gatehouse.json: `gatehouse up` took it for an
  // interrupted first start, removed the restored database and objects and initialized an empty deployment.
  it('refuses to start on, or restore into, a directory whose restore did not finish', async () => {
    const unfinished = join(tmp.dir, 'unfinished');
    mkdirSync(unfinished, { mode: 0o700 });
    writeFileSync(join(unfinished, 'restore.incomplete'), 'x', { mode: 0o600 });
    await expect(up(unfinished)).rejects.toThrow(/restore into .* did not finish: remove the directory/);
    expect(existsSync(join(unfinished, 'gatehouse.json'))).toBe(false);
    const again = await gatehouse(['restore', archive, '--data-dir', unfinished, '--root-key-file', rootKeyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('did not finish: remove the directory');
  });

  it('restores into a fresh directory; with the original root key every key, secret and object decrypts', async () => {
    const restored = await gatehouse(['restore', archive, '--data-dir', target, '--root-key-file', rootKeyFile]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(existsSync(join(target, 'restore.incomplete'))).toBe(false);
    expect(restored.stdout.toString()).toContain('start it with the ORIGINAL root key');
    // the running gatehouse MACed the manifest under its root key: the restore verified it
    expect(restored.stdout.toString()).toContain('archive authenticated under the root key');
    expect(existsSync(join(target, 'root.key'))).toBe(false);
    expect(readFileSync(join(target, 'admin.token'), 'utf8')).not.toBe(
      readFileSync(join(source, 'admin.token'), 'utf8'),
    );

    await expect(up(target)).rejects.toThrow(/no root key/);
    const server = await up(target, { GATEHOUSE_ROOT_KEY: readFileSync(rootKeyFile, 'utf8').trim() });
    children.push(server.child);
    const gh = (args: string[], stdinFile?: string) =>
      gatehouse([...args, '--data-dir', target], stdinFile === undefined ? {} : { stdinFile });
    expect((await gh(['object', 'get', 'docs/known.txt'])).stdout.toString()).toBe(marker);
    expect((await gh(['object', 'get', 'docs/ü/big.bin'])).stdout.equals(big)).toBe(true);
    const opened = await gh(['kms', 'decrypt', '--context', 'tenant=acme'], join(tmp.dir, 'sealed.bin'));
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout.toString()).toBe(marker);
    const ca = await gh(['ca', 'status', '--json']);
    expect(ca.code, ca.stderr).toBe(0);
    expect((await gh(['object', 'put', 'docs/after'], file('after', 'new'))).code).toBe(0);
    await kill9(server.child);
  });
});
