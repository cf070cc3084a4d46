import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

// The admin CLI as a user types it, against a real `gatehouse up` process.
describe('admin CLI round trips', () => {
  const tmp = tempDir('gh-cli-');
  const dir = join(tmp.dir, 'data');
  let child: ChildProcess;
  let banner: () => string;

  beforeAll(async () => {
    const started = await startUp(dir);
    child = started.child;
    banner = started.output;
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
    tmp.remove();
  });

  const gh = (...args: string[]) => runCli([...args, '--data-dir', dir]);

  it('prints a banner with what runs where and commands to try', () => {
    expect(banner()).toContain('gatehouse is up');
    expect(banner()).toContain('admin API');
    expect(banner()).toContain('Try next:');
    expect(banner()).toContain('WARNING: the root key was written to');
  });

  it('creates, lists, shows and rotates keys, human and JSON', async () => {
    const created = await gh('kms', 'key', 'create', 'orders');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toContain('created key orders (aes256-gcm96), version 1');

    const chacha = await gh('kms', 'key', 'create', 'billing', '--type', 'chacha20-poly1305', '--json');
    expect(chacha.code).toBe(0);
    expect(JSON.parse(chacha.stdout)).toMatchObject({ name: 'billing', type: 'chacha20-poly1305', latest_version: 1 });

    const duplicate = await gh('kms', 'key', 'create', 'orders');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stdout).toBe('');
    expect(duplicate.stderr.trim().split('\n')).toHaveLength(1);

    const rotated = await gh('kms', 'rotate', 'orders', '--json');
    expect(JSON.parse(rotated.stdout).latest_version).toBe(2);
    const rotatedAgain = await gh('kms', 'key', 'rotate', 'orders');
    expect(rotatedAgain.stdout).toContain('version 3 is now primary');

    const list = await gh('kms', 'key', 'list', '--json');
    const names = (JSON.parse(list.stdout) as { keys: Array<{ name: string }> }).keys.map((k) => k.name).sort();
    expect(names).toEqual(['billing', 'orders']);

    const show = await gh('kms', 'key', 'show', 'orders');
    expect(show.stdout).toMatch(/latest version\s+3/);
    // Version dates were printed as epoch milliseconds ("created 1795958127097").
    expect(show.stdout).toMatch(/version 1\s+created \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    expect(show.stdout).not.toMatch(/[A-Za-z0-9+/]{40,}/); // never key material
  });

  it('enforces version floors, the deletion guard and soft delete', async () => {
    const bad = await gh('kms', 'key', 'config', 'orders', '--min-decryption-version', '9');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^gatehouse: /);

    const config = await gh('kms', 'key', 'config', 'orders', '--min-decryption-version', '2', '--json');
    expect(JSON.parse(config.stdout).min_decryption_version).toBe(2);

    const refused = await gh('kms', 'key', 'delete', 'orders');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Deletion is not allowed');

    expect((await gh('kms', 'key', 'config', 'orders', '--deletion-allowed')).code).toBe(0);
    expect((await gh('kms', 'key', 'delete', 'orders')).stdout).toContain('deleted');
    expect((await gh('kms', 'key', 'show', 'orders', '--json')).stdout).toContain('"deleted":true');
    expect((await gh('kms', 'key', 'restore', 'orders')).stdout).toContain('restored');

    const early = await gh('kms', 'key', 'trim', 'orders');
    expect(early.code).toBe(1); // min_encryption_version 0 (latest): nothing may be trimmed yet, as in Vault
    expect((await gh('kms', 'key', 'config', 'orders', '--min-encryption-version', '3')).code).toBe(0);
    const trimmed = await gh('kms', 'key', 'trim', 'orders', '--json');
    expect(trimmed.code).toBe(0);
    const versions = (JSON.parse(trimmed.stdout) as { versions: Array<{ version: number }> }).versions.map(
      (v) => v.version,
    );
    expect(versions).toEqual([2, 3]);
  });

  it('reports the CA and rotates the admin token and the root key', async () => {
    const ca = await gh('ca', 'status', '--json');
    expect(ca.code).toBe(0);
    const status = JSON.parse(ca.stdout);
    expect(status.root.subject).toContain('gatehouse');
    expect(status.warnings).toEqual([]);

    const oldToken = readFileSync(join(dir, 'admin.token'), 'utf8');
    const rotated = await gh('admin', 'rotate-token');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).not.toContain(oldToken.trim());
    const newToken = readFileSync(join(dir, 'admin.token'), 'utf8');
    expect(newToken).not.toBe(oldToken);
    expect((await gh('kms', 'key', 'list')).code).toBe(0);

    const oldRoot = readFileSync(join(dir, 'root.key'), 'utf8');
    const root = await gh('kms', 'root', 'rotate', '--json');
    expect(root.code).toBe(0);
    expect(JSON.parse(root.stdout).fingerprint).toMatch(/\S/);
    expect(readFileSync(join(dir, 'root.key'), 'utf8')).not.toBe(oldRoot);
    expect(root.stdout).not.toContain(readFileSync(join(dir, 'root.key'), 'utf8').trim());
    expect((await gh('kms', 'key', 'show', 'billing')).code).toBe(0);
  });

  it('gatehouse doctor: findings on stdout, most severe first, exit 4 at warning or above', async () => {
    const human = await gh('doctor');
    expect(human.code).toBe(4);
    expect(human.stderr).toBe('');
    expect(human.stdout).toMatch(/^gatehouse doctor: 0 critical, 1 warning, \d+ notices? \(\d+ checks passed\)/);
    expect(human.stdout).toContain('WARNING   root_key.location');
    expect(human.stdout).toContain(`    - ${join(dir, 'root.key')}`);
    expect(human.stdout).toContain('  fix: move it to a secret mount');

    const json = await gh('doctor', '--json');
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout) as {
      findings: Array<{ check: string; severity: string }>;
      passed: string[];
    };
    expect(report.findings[0]).toMatchObject({ check: 'root_key.location', severity: 'warning' });
    expect(report.passed).toContain('admin_token.file_mode');
  });

  it('purges the gateway response cache; an unknown route is refused', async () => {
    const all = await gh('admin', 'purge-cache');
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(all.stdout).toContain('purged 0 cached responses');
    const demo = await gh('admin', 'purge-cache', '--route', 'demo', '--path-prefix', '/demo/', '--json');
    expect(demo.code).toBe(0);
    expect(JSON.parse(demo.stdout)).toEqual({ purged: 0 });
    const unknown = await gh('admin', 'purge-cache', '--route', 'no-such-route');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('The gateway has no route of that name');
    const relative = await gh('admin', 'purge-cache', '--path-prefix', 'demo/');
    expect(relative.code).toBe(1);
    expect(relative.stdout).toBe('');
  });

  it('exits 2 on usage errors', async () => {
    const usage = await gh('kms', 'key', 'config', 'orders', '--min-decryption-version', 'many');
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    // Found malformed by the command itself rather than by commander: these exited 1.
    for (const args of [
      ['object', 'get', 'bucket-without-key'],
      ['object', 'rm', 'photos/'],
      ['ca', 'bundle', '--format', 'der'],
    ]) {
      const result = await gh(...args);
      expect({
        args,
        code: result.code,
        stdout: result.stdout,
        lines: result.stderr.trim().split('\n').length,
      }).toEqual({ args, code: 2, stdout: '', lines: 1 });
    }
  });

  it('stops cleanly on SIGTERM, then admin commands exit 3', async () => {
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(existsSync(join(dir, 'endpoints.json'))).toBe(false);
    const after = await gh('kms', 'key', 'list');
    expect(after.code).toBe(3);
    expect(after.stderr.trim()).toBe(`gatehouse: gatehouse is not running on ${dir}`);
    expect(after.stdout).toBe('');
  });

  it('restarts on the rotated root key and keeps every key', async () => {
    const again = await startUp(dir);
    try {
      const list = await gh('kms', 'key', 'list', '--json');
      expect((JSON.parse(list.stdout) as { keys: unknown[] }).keys).toHaveLength(2);
    } finally {
      again.child.kill('SIGTERM');
      expect(await exitOf(again.child)).toBe(0);
    }
  });
});

describe('gatehouse up failures', () => {
  it('exits non-zero with one line on a malformed config', async () => {
    const tmp = tempDir('gh-cli-');
    try {
      const result = await runCli(['up', '--data-dir', tmp.dir], { GATEHOUSE_STORAGE__KIND: 'mysql' });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(/^gatehouse: config: storage\.kind: .*"mysql".*GATEHOUSE_STORAGE__KIND/);
      expect(existsSync(join(tmp.dir, 'gatehouse.json'))).toBe(false);
    } finally {
      tmp.remove();
    }
  });

  // `up --data-dir /proc/x` spun forever at full CPU in Node's recursive mkdir; `up --data-dir FILE/x` printed a raw
  // "ENOTDIR: not a directory, mkdir ...".
  it('refuses a data directory that cannot be created, with one line', async () => {
    const tmp = tempDir('gh-cli-');
    try {
      const file = join(tmp.dir, 'plain');
      writeFileSync(file, 'x');
      const underFile = await runCli(['up', '--data-dir', join(file, 'data')]);
      expect(underFile).toEqual({
        code: 1,
        stdout: '',
        stderr: `gatehouse: cannot create the data directory ${join(file, 'data')}: ${file} is not a directory\n`,
      });
      if (existsSync('/proc/self')) {
        const proc = await runCli(['up', '--data-dir', '/proc/gatehouse-test']);
        expect(proc).toEqual({
          code: 1,
          stdout: '',
          stderr:
            'gatehouse: cannot create the data directory /proc/gatehouse-test: directories cannot be created there\n',
        });
      }
    } finally {
      tmp.remove();
    }
  });

  it('a second up on the same directory exits with a clear message', async () => {
    const tmp = tempDir('gh-cli-');
    const first = await startUp(tmp.dir);
    try {
      const second = await runCli(['up', '--data-dir', tmp.dir], {
        GATEHOUSE_LISTEN__ADMIN__PORT: '0',
        GATEHOUSE_LISTEN__KMS__PORT: '0',
        GATEHOUSE_LISTEN__IDENTITY__PORT: '0',
        GATEHOUSE_LISTEN__IDENTITY_MTLS__PORT: '0',
      });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain('another gatehouse is already running on');
    } finally {
      first.child.kill('SIGTERM');
      await exitOf(first.child);
      tmp.remove();
    }
  });
});

// endpoints.json naming a live pid whose admin listener refuses connections (gatehouse stopping, or a reused pid):
// the commands said "gatehouse is not running at https://127.0.0.1:PORT" instead of the contract's "on DIR".
describe('admin commands against a listener that refuses connections', () => {
  it('exit 3 with "gatehouse is not running on DIR" and nothing on stdout', async () => {
    const tmp = tempDir('gh-cli-');
    try {
      const server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      await new Promise((r) => server.close(r));
      const bundle = join(tmp.dir, 'trust-bundle.pem');
      writeFileSync(bundle, '');
      writeFileSync(join(tmp.dir, 'admin.token'), 'gha_not-a-real-token\n');
      writeFileSync(
        join(tmp.dir, 'endpoints.json'),
        JSON.stringify({ pid: process.pid, admin: `https://127.0.0.1:${port}`, trustBundle: bundle }),
      );
      for (const args of [
        ['kms', 'key', 'list'],
        ['object', 'ls'],
        ['kms', 'encrypt', '--key', 'k'],
      ]) {
        const result = await runCli([...args, '--data-dir', tmp.dir, '--json'], {}, 'x');
        expect({ args, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
          args,
          code: 3,
          stdout: '',
          stderr: `gatehouse: gatehouse is not running on ${tmp.dir}\n`,
        });
      }
    } finally {
      tmp.remove();
    }
  });
});
