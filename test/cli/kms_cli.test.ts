import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, exitOf, runCli, startUp, waitForOutput } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const tmp = tempDir();
const dir = join(tmp.dir, 'data');
let up: Awaited<ReturnType<typeof startUp>>;

/** Runs a shell pipeline the way a user types it, with `gh` = the built CLI. */
function sh(script: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; gh() { "${process.execPath}" "${CLI}" "$@"; }; ${script}`], {
      cwd: tmp.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: join(tmp.dir, 'spool') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

const D = `--data-dir ${JSON.stringify(dir)}`;

beforeAll(async () => {
  up = await startUp(dir);
  await sh(`mkdir -p spool`);
  const created = await runCli(['kms', 'key', 'create', 'orders', '--data-dir', dir]);
  expect(created.code).toBe(0);
}, 60_000);

afterAll(async () => {
  up?.child.kill('SIGTERM');
  if (up) await exitOf(up.child);
  tmp.remove();
});

describe('gatehouse kms encrypt | decrypt | rewrap | datakey', () => {
  it('round-trips through pipes and files with contexts, and releases nothing on a wrong context', async () => {
    writeFileSync(join(tmp.dir, 'plain.txt'), 'the quarterly numbers\n');
    const enc = await sh(`gh kms encrypt --key orders --context tenant=acme --context table=q3 ${D} < plain.txt > c1`);
    expect(enc.code, enc.stderr).toBe(0);
    const cipher = readFileSync(join(tmp.dir, 'c1'));
    expect(cipher.includes('quarterly')).toBe(false);

    const piped = await sh(`cat c1 | gh kms decrypt --context table=q3 --context tenant=acme ${D}`);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout.toString()).toBe('the quarterly numbers\n');
    const fromFile = await sh(`gh kms decrypt --context tenant=acme --context table=q3 ${D} < c1`);
    expect(fromFile.stdout.toString()).toBe('the quarterly numbers\n');
    const chained = await sh(`gh kms encrypt --key orders ${D} < plain.txt | gh kms decrypt ${D}`);
    expect(chained.stdout.toString()).toBe('the quarterly numbers\n');
    const empty = await sh(`printf '' | gh kms encrypt --key orders ${D} | gh kms decrypt ${D} | wc -c`);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout.toString().trim()).toBe('0');

    for (const script of [
      `cat c1 | gh kms decrypt --context tenant=evil --context table=q3 ${D}`,
      `gh kms decrypt --context tenant=acme ${D} < c1`,
      `gh kms decrypt ${D} < plain.txt`,
    ]) {
      const failed = await sh(script);
      expect(failed.code, script).not.toBe(0);
      expect(failed.stdout.length, script).toBe(0);
      expect(failed.stderr.trim().split('\n')).toHaveLength(1);
      expect(failed.stderr).toMatch(/^gatehouse: /);
    }
    expect(readdirSync(join(tmp.dir, 'spool'))).toEqual([]);
  });

  it('writes nothing when any byte was changed, even past the first segment', async () => {
    writeFileSync(join(tmp.dir, 'multi.bin'), randomBytes(300 * 1024));
    expect((await sh(`gh kms encrypt --key orders ${D} < multi.bin > c2`)).code).toBe(0);
    const cipher = readFileSync(join(tmp.dir, 'c2'));
    for (const at of [cipher.length - 5, 200 * 1024, 40]) {
      const flipped = Buffer.from(cipher);
      flipped[at] = (flipped[at] ?? 0) ^ 1;
      writeFileSync(join(tmp.dir, 'c2x'), flipped);
      const piped = await sh(`cat c2x | gh kms decrypt ${D}`);
      expect(piped.code).not.toBe(0);
      expect(piped.stdout.length).toBe(0);
      const redirected = await sh(`gh kms decrypt ${D} < c2x`);
      expect(redirected.code).not.toBe(0);
      expect(redirected.stdout.length).toBe(0);
    }
    const truncated = await sh(`head -c ${cipher.length - 100} c2 | gh kms decrypt ${D}`);
    expect(truncated.code).not.toBe(0);
    expect(truncated.stdout.length).toBe(0);
  });

  it('--out writes the file only on success and leaves no file on failure', async () => {
    writeFileSync(join(tmp.dir, 'doc.txt'), 'contract text');
    await sh(`gh kms encrypt --key orders --context doc=1 ${D} < doc.txt > c3`);
    const bad = await sh(`cat c3 | gh kms decrypt --context doc=2 --out out.txt ${D}`);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout.length).toBe(0);
    expect(existsSync(join(tmp.dir, 'out.txt'))).toBe(false);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('out.txt'))).toEqual([]);
    const good = await sh(`cat c3 | gh kms decrypt --context doc=1 --out out.txt ${D}`);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout.length).toBe(0);
    expect(readFileSync(join(tmp.dir, 'out.txt'), 'utf8')).toBe('contract text');
  });

  // Killed while it spooled a piped ciphertext, decrypt used to leave gatehouse-kms-* (a copy of the ciphertext) in $TMPDIR.
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)(
    'killed by %s while stdin is still open: removes its spool and --out temporary file, exits %i',
    async (signal, code) => {
      const spoolDir = join(tmp.dir, `spool-${signal}`); // this test's own TMPDIR
      mkdirSync(spoolDir);
      const out = `killed-${signal}.txt`;
      const child = spawn(process.execPath, [CLI, 'kms', 'decrypt', '--out', join(tmp.dir, out), '--data-dir', dir], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: spoolDir },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.stdin.write(randomBytes(4096)); // and never ended: the command is still spooling
      await waitForOutput(() => readdirSync(spoolDir).join('\n'), /^gatehouse-kms-/m, 'the spool directory');
      expect(readdirSync(tmp.dir).filter((f) => f.startsWith(`.${out}.`))).toHaveLength(1); // --out's temporary file
      child.kill(signal);
      expect(await exitOf(child)).toBe(code);
      child.stdin.destroy();
      expect(readdirSync(spoolDir)).toEqual([]);
      expect(readdirSync(tmp.dir).filter((f) => f.includes(out))).toEqual([]);
    },
  );

  it('rewraps to the newest version so data survives raising min_decryption_version', async () => {
    expect((await runCli(['kms', 'key', 'create', 'ledger', '--data-dir', dir])).code).toBe(0);
    writeFileSync(join(tmp.dir, 'ledger.txt'), 'balance 42');
    await sh(`gh kms encrypt --key ledger --context y=2026 ${D} < ledger.txt > l1`);
    expect((await runCli(['kms', 'rotate', 'ledger', '--data-dir', dir])).code).toBe(0);
    const rewrap = await sh(`cat l1 | gh kms rewrap --context y=2026 ${D} > l2`);
    expect(rewrap.code, rewrap.stderr).toBe(0);
    const config = await runCli(['kms', 'key', 'config', 'ledger', '--min-decryption-version', '2', '--data-dir', dir]);
    expect(config.code, config.stderr).toBe(0);
    const old = await sh(`gh kms decrypt --context y=2026 ${D} < l1`);
    expect(old.code).not.toBe(0);
    expect(old.stdout.length).toBe(0);
    const fresh = await sh(`gh kms decrypt --context y=2026 ${D} < l2`);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout.toString()).toBe('balance 42');
    const wrongRewrap = await sh(`gh kms rewrap --context y=1999 ${D} < l2`);
    expect(wrongRewrap.code).not.toBe(0);
    expect(wrongRewrap.stdout.length).toBe(0);
  });

  // `--json` (help: "print exactly one JSON document") used to write the raw envelope or plaintext bytes.
  it('with --json prints one JSON document holding the bytes in base64, and nothing on failure', async () => {
    const plain = randomBytes(100_003); // not a multiple of 3: the base64 stream carries bytes over chunks
    writeFileSync(join(tmp.dir, 'json-plain.bin'), plain);
    const enc = await sh(`gh kms encrypt --key orders --context t=j --json ${D} < json-plain.bin`);
    expect(enc.code, enc.stderr).toBe(0);
    const envelope = Buffer.from((JSON.parse(enc.stdout.toString()) as { ciphertext: string }).ciphertext, 'base64');
    writeFileSync(join(tmp.dir, 'json-c'), envelope);
    const dec = await sh(`gh kms decrypt --context t=j --json ${D} < json-c`);
    expect(dec.code, dec.stderr).toBe(0);
    expect(Buffer.from((JSON.parse(dec.stdout.toString()) as { plaintext: string }).plaintext, 'base64')).toEqual(
      plain,
    );
    const rewrapped = await sh(`gh kms rewrap --context t=j --json ${D} < json-c`);
    expect(rewrapped.code, rewrapped.stderr).toBe(0);
    expect(Object.keys(JSON.parse(rewrapped.stdout.toString()) as object)).toEqual(['ciphertext']);
    const toFile = await sh(`gh kms decrypt --context t=j --json --out json-out.bin ${D} < json-c`);
    expect(JSON.parse(toFile.stdout.toString())).toEqual({ file: join(tmp.dir, 'json-out.bin'), bytes: plain.length });
    expect(readFileSync(join(tmp.dir, 'json-out.bin'))).toEqual(plain);

    const wrong = await sh(`gh kms decrypt --context t=other --json ${D} < json-c`);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout.length).toBe(0);
    const noKey = await sh(`gh kms encrypt --key missing --json ${D} < json-plain.bin`);
    expect(noKey.code).toBe(1);
    expect(noKey.stdout.length).toBe(0);
  });

  it('makes data keys', async () => {
    const human = await runCli(['kms', 'datakey', '--key', 'orders', '--data-dir', dir]);
    expect(human.code).toBe(0);
    const [plainLine, wrappedLine] = human.stdout.trim().split('\n');
    expect(Buffer.from(plainLine?.split(/\s+/)[1] ?? '', 'base64')).toHaveLength(32);
    expect(wrappedLine).toMatch(/^wrapped\s+gh1:/);
    const json = await runCli(['kms', 'datakey', '--key', 'orders', '--wrapped-only', '--json', '--data-dir', dir]);
    const parsed = JSON.parse(json.stdout) as { ciphertext: string; key_version: number; plaintext?: string };
    expect(parsed.ciphertext).toMatch(/^gh1:/);
    expect(parsed.plaintext).toBeUndefined();
    const unknown = await runCli(['kms', 'datakey', '--key', 'nope', '--data-dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    const usage = await runCli(['kms', 'encrypt', '--key', 'orders', '--context', 'novalue', '--data-dir', dir]);
    expect(usage.code).toBe(2);
  });

  it('names an --out FILE it cannot write, before asking the server (ERR_OUTPUT_FILE)', async () => {
    const missing = join(tmp.dir, 'no-such-dir', 'x');
    const decrypt = await sh(`echo x | gh kms decrypt --out ${JSON.stringify(missing)} ${D}`);
    expect(decrypt.code).toBe(1);
    expect(decrypt.stderr.trim()).toBe(
      `gatehouse: cannot write ${missing}: directory ${dirname(missing)} does not exist`,
    );
    const backup = await runCli(['backup', '--out', tmp.dir, '--data-dir', dir]);
    expect(backup.code).toBe(1);
    expect(backup.stderr.trim()).toBe(`gatehouse: cannot write ${tmp.dir}: it is a directory`);
    expect(backup.stdout).toBe('');
  });

  // `gatehouse kms key list | head -1` used to end in an EPIPE stack trace once the reader had gone.
  it('ends quietly with 141 when the reader of stdout stops early, like a Unix tool', async () => {
    writeFileSync(join(tmp.dir, 'head.bin'), randomBytes(4 * 1024 * 1024));
    for (const script of [`gh kms key list ${D} | true`, `gh kms encrypt --key orders ${D} < head.bin | head -c 10`]) {
      const result = await sh(script);
      expect(result.code, script).toBe(141);
      expect(result.stderr, script).toBe('');
    }
  });

  it('round-trips 50 MiB through pipes', async () => {
    const block = randomBytes(1024 * 1024);
    const expected = createHash('sha256');
    const parts: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      block[0] = i;
      parts.push(Buffer.from(block));
      expected.update(block);
    }
    writeFileSync(join(tmp.dir, 'big.bin'), Buffer.concat(parts));
    parts.length = 0;
    const result = await sh(
      `cat big.bin | gh kms encrypt --key orders --context f=big ${D} | gh kms decrypt --context f=big ${D} | sha256sum`,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.toString().split(' ')[0]).toBe(expected.digest('hex'));
  }, 120_000);
});
