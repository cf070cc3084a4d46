import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import type { Agent } from 'undici';
import { CLI, exitOf, runCli, startUp, type CliResult } from '../support/cli.js';
import { callJson, trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';

/** Every file and directory under `dir` with its permission bits. */
function modesUnder(dir: string): Array<{ path: string; mode: number; directory: boolean }> {
  const out: Array<{ path: string; mode: number; directory: boolean }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    out.push({ path, mode: stat.mode & 0o777, directory: stat.isDirectory() });
    if (stat.isDirectory()) out.push(...modesUnder(path));
  }
  return out;
}

/** The forms a 32-byte key may be written in. */
function keyForms(base64: string): string[] {
  const raw = Buffer.from(base64.trim(), 'base64');
  expect(raw).toHaveLength(32);
  return [raw.toString('base64').replace(/=+$/, ''), raw.toString('base64url'), raw.toString('hex')];
}

// The threat model's claim "logs never contain secrets, tokens, keys or plaintext", checked the way an operator runs
// it: a real `gatehouse up` at the most verbose level, one of each flow driven through the CLI and the listeners,
// then every byte the process wrote searched for every secret that passed through it.
describe('gatehouse up at log level trace', () => {
  const tmp = tempDir('gh-leak-');
  const dir = join(tmp.dir, 'data');
  const secrets = new Map<string, string>();
  const cliRuns: Array<{ what: string; result: CliResult }> = [];
  let child: ChildProcess;
  let output: () => string;
  let agent: Agent;
  let endpoints: { identity: string; gateway: string; trustBundle: string };

  const gh = async (args: string[], input?: string): Promise<CliResult> => {
    const result = await runCli([...args, '--data-dir', dir], {}, input);
    cliRuns.push({ what: args.slice(0, 3).join(' '), result });
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result;
  };
  const secret = (what: string, value: unknown): string => {
    expect(typeof value, what).toBe('string');
    expect((value as string).length, what).toBeGreaterThanOrEqual(12);
    secrets.set(what, value as string);
    return value as string;
  };

  beforeAll(async () => {
    const started = await startUp(dir, { GATEHOUSE_LOG__LEVEL: 'trace', GATEHOUSE_MESH__DEMO__ENABLED: 'false' });
    child = started.child;
    output = started.output;
    endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as typeof endpoints;
    agent = trustingAgent(endpoints.trustBundle);
    secret('admin token', readFileSync(join(dir, 'admin.token'), 'utf8').trim());
    keyForms(readFileSync(join(dir, 'root.key'), 'utf8')).forEach((form, i) => secret(`root key (${i})`, form));
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
    await agent?.close();
    tmp.remove();
  });

  it('drives a KMS encryption, a data key, a token, an API key, a sign-in user, a CA signing and a backup', async () => {
    await gh(['kms', 'key', 'create', 'orders']);
    const plaintext = secret('plaintext', 'plaintext-sentinel-6c1f0e5d9a');
    const sealed = await gh(['kms', 'encrypt', '--key', 'orders', '--context', 'tenant=acme', '--json'], plaintext);
    const cipher = Buffer.from(JSON.parse(sealed.stdout).ciphertext, 'base64');
    expect(cipher.toString('latin1')).not.toContain(plaintext);
    // raw bytes on stdin (runCli's input is text, which would damage the binary envelope)
    const opened = spawnSync(process.execPath, [CLI, 'kms', 'decrypt', '--context', 'tenant=acme', '--data-dir', dir], {
      input: cipher,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    cliRuns.push({
      what: 'kms decrypt',
      result: { code: opened.status, stdout: '', stderr: opened.stderr.toString() },
    });
    expect(opened.status, opened.stderr.toString()).toBe(0);
    expect(opened.stdout.toString()).toBe(plaintext);
    const dataKey = JSON.parse((await gh(['kms', 'datakey', '--key', 'orders', '--json'])).stdout);
    secret('data key', dataKey.plaintext);

    await gh(['api', 'create', '--audience', 'https://api.example', '--scope', 'read=Read things']);
    const client = JSON.parse(
      (
        await gh([
          'client',
          'create',
          '--name',
          'svc',
          '--grant',
          'client_credentials',
          '--scope',
          'read',
          '--audience',
          'https://api.example',
          '--json',
        ])
      ).stdout,
    );
    const basic = (s: string) => `Basic ${Buffer.from(`${client.client_id}:${s}`).toString('base64')}`;
    const token = await callJson(agent, `${endpoints.identity}/oauth2/token`, {
      headers: { authorization: basic(secret('client secret', client.client_secret)) },
      form: 'grant_type=client_credentials&resource=https%3A%2F%2Fapi.example',
    });
    expect(token.status).toBe(200);
    secret('access token', token.body.access_token);
    const wrong = await callJson(agent, `${endpoints.identity}/oauth2/token`, {
      headers: { authorization: basic(secret('wrong client secret', 'ghcs_wrong-secret-sentinel-0c9d')) },
      form: 'grant_type=client_credentials',
    });
    expect(wrong.status).toBe(401);

    const apiKey = JSON.parse((await gh(['apikey', 'create', '--name', 'demo', '--scope', 'demo', '--json'])).stdout);
    const demo = await callJson(agent, `${endpoints.gateway}/demo/`, {
      headers: { 'x-api-key': secret('API key', apiKey.key) },
    });
    expect(demo.status).toBe(200);
    const refused = await callJson(agent, `${endpoints.gateway}/demo/?api_key=ghk_query-sentinel-7e2a`, {
      headers: { 'x-api-key': secret('wrong API key', 'ghk_wrong-key-sentinel-8b3c4d5e6f') },
    });
    expect(refused.status).toBe(401);
    secret('API key in a query', 'ghk_query-sentinel-7e2a');

    await gh(
      ['user', 'create', '--username', 'alice', '--password-stdin'],
      `${secret('password', 'password-sentinel-correct-horse')}\n`,
    );

    const spiffeId = 'spiffe://gatehouse.local/ns/leak/sa/check';
    const joinToken = JSON.parse((await gh(['ca', 'join-token', '--spiffe-id', spiffeId, '--json'])).stdout);
    const out = join(tmp.dir, 'svid');
    await gh([
      'ca',
      'issue',
      '--spiffe-id',
      spiffeId,
      '--out',
      out,
      '--join-token',
      secret('join token', joinToken.token),
    ]);
    const keyPem = readFileSync(join(out, 'key.pem'), 'utf8');
    expect(statSync(join(out, 'key.pem')).mode & 0o777).toBe(0o600);
    secret('workload private key', keyPem.split('\n')[1]);

    const backupFile = join(tmp.dir, 'backup.tar');
    const backup = await gh(['backup', '--out', backupFile, '--json']);
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    const archive = readFileSync(backupFile).toString('latin1');
    for (const [what, value] of secrets) expect(archive, `${what} in the backup`).not.toContain(value);
    expect(archive).not.toContain('PRIVATE KEY');
    expect(backup.stdout).not.toContain(secrets.get('admin token'));

    const previousAdminToken = secrets.get('admin token')!;
    const rotated = await gh(['admin', 'rotate-token', '--json']);
    secret('new admin token', readFileSync(join(dir, 'admin.token'), 'utf8').trim());
    expect(rotated.stdout).not.toContain(previousAdminToken);
    expect(rotated.stdout).not.toContain(secrets.get('new admin token'));
    const rooted = await gh(['kms', 'root', 'rotate', '--json']);
    keyForms(readFileSync(join(dir, 'root.key'), 'utf8')).forEach((form, i) => secret(`new root key (${i})`, form));
    for (const [what, value] of secrets) {
      if (what.includes('root key')) expect(rooted.stdout, what).not.toContain(value);
    }
  });

  it('wrote verbose logs that name what happened and hold none of those secrets', async () => {
    child.kill('SIGTERM');
    expect(await exitOf(child), output().slice(-4000)).toBe(0);
    const log = output();
    // the log is not empty or silenced: audit lines name their subjects
    expect(log).toContain('"key_name":"orders"');
    expect(log).toContain('"operation":"backup"');
    expect(log).toContain('"event":"token.issued"');
    expect(log).toContain('"event":"client.auth_failed"');
    expect(secrets.size).toBeGreaterThanOrEqual(18);
    for (const [what, value] of secrets) expect(log, `${what} in the log`).not.toContain(value);
    expect(log).not.toContain('PRIVATE KEY');
    // nor did the CLI write any of them on stderr
    for (const { what, result } of cliRuns) {
      for (const [name, value] of secrets) expect(result.stderr, `${name} on stderr of ${what}`).not.toContain(value);
    }
  });

  it('left only owner-only files and no temporary files in the data directory', () => {
    const entries = modesUnder(dir);
    const everyoneMayRead = new Set([join(dir, 'trust-bundle.pem')]);
    for (const { path, mode, directory } of entries) {
      if (everyoneMayRead.has(path)) continue;
      expect({ path, mode: mode.toString(8) }).toEqual({ path, mode: directory ? '700' : '600' });
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const leftovers = entries.filter(({ path }) => /(^|\/)\.init-|\.tmp|\.partial|endpoints\.json$/.test(path));
    expect(leftovers).toEqual([]);
  });
});
