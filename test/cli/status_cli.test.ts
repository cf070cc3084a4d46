import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

interface Status {
  data_dir: string;
  trust_domain: string;
  storage: string;
  root_key_fingerprint: string;
  ca: { intermediate: { id: string; days_left: number }; warnings: string[] };
}

// Every port 0, the demo mesh's too (startUp sets the listeners' only).

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exitOf(child);
  }
}

// `gatehouse status` as a user types it, against a real `gatehouse up` (ports 0).
describe('gatehouse status', () => {
  const tmp = tempDir('gh-status-');
  const dir = join(tmp.dir, 'data');
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    child = (await startUp(dir)).child;
  });

  afterAll(async () => {
    await stop(child);
    tmp.remove();
  });

  it('--json prints the admin API status as one document', async () => {
    const result = await runCli(['status', '--data-dir', dir, '--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const status = JSON.parse(result.stdout) as Status;
    expect(status).toMatchObject({ trust_domain: 'gatehouse.local', storage: 'sqlite' });
    expect(status.data_dir).toContain(dir);
    expect(status.root_key_fingerprint).toMatch(/\S{8,}/);
    expect(status.ca.warnings).toEqual([]);
    expect(status.ca.intermediate.days_left).toBeGreaterThan(300);
  });

  it('prints where it listens, trust domain, storage, root key and CA expiry as aligned lines', async () => {
    const json = JSON.parse((await runCli(['status', '--data-dir', dir, '--json'])).stdout) as Status;
    const endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as Record<string, unknown>;
    const result = await runCli(['status', '--data-dir', dir]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`gatehouse is running on ${json.data_dir} (pid ${String(endpoints.pid)})`);
    const field = (name: string) =>
      lines
        .find((l) => l.startsWith(`${name}  `))
        ?.slice(name.length)
        .trim();
    expect(field('admin')).toBe(endpoints.admin);
    expect(field('identity')).toBe(endpoints.identity);
    expect(field('KMS')).toBe(endpoints.kms);
    expect(field('CA')).toBe(endpoints.ca);
    expect(field('gateway')).toBe(endpoints.gateway);
    const mesh = endpoints.mesh as { frontend: string; backend: string };
    expect(field('mesh demo')).toBe(`frontend ${mesh.frontend}, backend ${mesh.backend}`);
    expect(field('trust domain')).toBe('gatehouse.local');
    expect(field('storage')).toBe('sqlite');
    expect(field('root key')).toContain(json.root_key_fingerprint);
    expect(field('CA intermediate')).toContain(
      `${json.ca.intermediate.id}  ${json.ca.intermediate.days_left} days left`,
    );
    // Aligned: every value after the label column starts at the same place.
    const starts = new Set(lines.slice(1).map((l) => /^\S+(?: \S+)*\s{2,}/.exec(l)?.[0].length));
    expect(starts.size).toBe(1);
    expect(result.stdout).not.toContain('WARNING');
  });

  it('exits 3 with "gatehouse is not running on DIR" and nothing on stdout when nothing runs there', async () => {
    for (const args of [[], ['--json']]) {
      const result = await runCli(['status', '--data-dir', tmp.dir, ...args]);
      expect(result).toEqual({ code: 3, stdout: '', stderr: `gatehouse: gatehouse is not running on ${tmp.dir}\n` });
    }
  });
});

// A CA within pki.expiryWarning: status still exits 0 (`gatehouse doctor` is the gate) but prints the warning.
describe('gatehouse status with a CA expiry warning', () => {
  const tmp = tempDir('gh-status-');
  const dir = join(tmp.dir, 'data');
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // The intermediate lives 365 days: a 400-day warning window covers it from the start.
    child = (await startUp(dir, { GATEHOUSE_PKI__EXPIRY_WARNING: '400d' })).child;
  });

  afterAll(async () => {
    await stop(child);
    tmp.remove();
  });

  it('exits 0 and prints the warning, human and JSON', async () => {
    const json = await runCli(['status', '--data-dir', dir, '--json']);
    expect(json.code).toBe(0);
    const warnings = (JSON.parse(json.stdout) as Status).ca.warnings;
    expect(warnings.length).toBeGreaterThan(0);

    const human = await runCli(['status', '--data-dir', dir]);
    expect(human.code).toBe(0);
    for (const warning of warnings) expect(human.stdout).toContain(`WARNING: ${warning}`);
  });
});
