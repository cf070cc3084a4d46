import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, splitPem } from '../pki/helpers.js';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const ID = 'spiffe://gatehouse.local/ns/prod/sa/api';

// `gatehouse ca ...` as a user types it, against a real `gatehouse up` process (built CLI in dist/).
describe('gatehouse ca CLI', () => {
  const tmp = tempDir('gh-ca-cli-');
  const dir = join(tmp.dir, 'data');
  let child: ChildProcess;
  let endpoints: { ca?: string; trustBundle: string };

  beforeAll(async () => {
    const started = await startUp(dir);
    child = started.child;
    endpoints = started.endpoints as typeof endpoints;
    expect(started.output()).toContain('CA API');
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exitOf(child);
    }
    tmp.remove();
  });

  const gh = (...args: string[]) => runCli([...args, '--data-dir', dir]);

  it('issues with a locally made key: files openssl verify accepts, key 0600', async () => {
    expect(endpoints.ca).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const out = join(tmp.dir, 'certs');
    const res = await gh(
      'ca',
      'issue',
      '--spiffe-id',
      ID,
      '--dns',
      'api.internal',
      '--ttl',
      '1h',
      '--out',
      out,
      '--json',
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const body = JSON.parse(res.stdout);
    expect(body.spiffe_id).toBe(ID);
    expect(Date.parse(body.not_after) - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(statSync(join(out, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(splitPem(readFileSync(join(out, 'cert.pem'), 'utf8'))).toHaveLength(2);
    const verify = await exec('openssl', [
      'verify',
      '-CAfile',
      join(out, 'bundle.pem'),
      '-untrusted',
      join(out, 'cert.pem'),
      join(out, 'cert.pem'),
    ]);
    expect(verify.output).toContain(': OK');
    expect(verify.code).toBe(0);
    const keyPub = (await exec('openssl', ['pkey', '-in', join(out, 'key.pem'), '-pubout'])).output;
    const certPub = (await exec('openssl', ['x509', '-in', join(out, 'cert.pem'), '-noout', '-pubkey'])).output;
    expect(certPub).toBe(keyPub);
    const text = (await exec('openssl', ['x509', '-in', join(out, 'cert.pem'), '-noout', '-ext', 'subjectAltName']))
      .output;
    expect(text).toContain(`URI:${ID}`);
    expect(text).toContain('DNS:api.internal');
  });

  it('prints a join token once; it works for one issue only', async () => {
    const res = await gh('ca', 'join-token', '--spiffe-id', ID, '--ttl', '2m');
    expect(res.code).toBe(0);
    // stdout holds the token alone (docs/mesh.md writes it to a joinTokenFile with `>`); the note is on stderr.
    expect(res.stdout).toMatch(/^ghj_[A-Za-z0-9_-]+\n$/);
    const token = res.stdout.trim();
    expect(res.stderr).toContain(`(single use, for ${ID}, expires `);
    const first = await gh('ca', 'issue', '--spiffe-id', ID, '--out', join(tmp.dir, 'a'), '--join-token', token);
    expect(first.code).toBe(0);
    const second = await gh('ca', 'issue', '--spiffe-id', ID, '--out', join(tmp.dir, 'b'), '--join-token', token);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('Invalid join token');
    const bad = await gh('ca', 'join-token', '--spiffe-id', 'spiffe://elsewhere.org/ns/a/sa/b');
    expect(bad.code).toBe(1);
    // A bootstrap credential lives at most pki.maxJoinTokenTtl (24h by default).
    const forever = await gh('ca', 'join-token', '--spiffe-id', ID, '--ttl', '99y');
    expect(forever).toMatchObject({ code: 1, stdout: '' });
    expect(forever.stderr).toContain('a join token lives at most 1d (pki.maxJoinTokenTtl)');
    expect((await gh('ca', 'join-token', '--spiffe-id', ID, '--ttl', '24h')).code).toBe(0);
  });

  // `--out` naming a file used to fail with a raw "EEXIST: ... mkdir" only after the CA had signed, spending the
  // join token; now the directory is checked first and the token stays usable.
  it('refuses an --out that cannot be a directory before the join token is spent', async () => {
    const token = (await gh('ca', 'join-token', '--spiffe-id', ID, '--ttl', '2m')).stdout.split('\n')[0]!;
    const file = join(tmp.dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const refused = await gh('ca', 'issue', '--spiffe-id', ID, '--out', file, '--join-token', token, '--json');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(`gatehouse: cannot write ${file}: ${file} is not a directory\n`);
    const issued = await gh('ca', 'issue', '--spiffe-id', ID, '--out', join(tmp.dir, 'c'), '--join-token', token);
    expect(issued.code).toBe(0);
    expect(statSync(join(tmp.dir, 'c', 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('revokes, rotates with overlap, and shows status and both bundle forms', async () => {
    const revoked = await gh('ca', 'revoke', '--spiffe-id', ID, '--json');
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout).spiffe_id).toBe(ID);

    const before = JSON.parse((await gh('ca', 'bundle', '--format', 'spiffe')).stdout);
    expect(before.keys).toHaveLength(2);
    const rotated = await gh('ca', 'rotate');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^next intermediate \S+ published \(bundle sequence \d+\)/);
    // Again while that one is pending: nothing is prepared, and the output says so.
    const again = await gh('ca', 'rotate');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('was already published, nothing to do');
    expect(JSON.parse((await gh('ca', 'rotate', '--json')).stdout).steps).toEqual([]);
    const after = JSON.parse((await gh('ca', 'bundle', '--format', 'spiffe')).stdout);
    expect(after.keys).toHaveLength(3);
    expect(after.spiffe_sequence).toBe(before.spiffe_sequence + 1);
    const pem = (await gh('ca', 'bundle')).stdout;
    expect(splitPem(pem)).toHaveLength(3);
    expect(readFileSync(endpoints.trustBundle, 'utf8')).toBe(pem); // trust-bundle.pem rewritten

    const status = await gh('ca', 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/next {10}\S+ activates /);
    const json = JSON.parse((await gh('ca', 'status', '--json')).stdout);
    expect(json.intermediate.expiry_seconds).toBeGreaterThan(300 * 86_400);
    expect(json.next.activate_at).toBeGreaterThan(Date.now());
    // The active intermediate is named by the id that next/retiring use (all intermediates share one subject).
    expect(json.intermediate.id).toMatch(/\S+/);
    expect(json.intermediate.id).not.toBe(json.next.intermediate_id);
    expect(status.stdout).toContain(`intermediate  ${json.intermediate.id}  CN=gatehouse intermediate CA`);
  });
});
