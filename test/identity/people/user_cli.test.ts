import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { exitOf, runCli, startUp } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('gatehouse user (CLI against a running gatehouse up)', () => {
  it('create with --password-stdin, list, passwd, disable; the sign-in page is served with its CSP', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const up = await startUp(tmp.dir, { GATEHOUSE_IDENTITY__SIGN_IN__SCRYPT_COST: '12' });
    cleanups.push(async () => {
      up.child.kill('SIGTERM');
      await exitOf(up.child);
    });
    const d = ['--data-dir', tmp.dir];
    const password = 'correct horse battery staple';

    const refused = await runCli(['user', 'create', '--username', 'ada', ...d], {}, `${password}\n`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--password-stdin');

    const created = await runCli(
      [
        'user',
        'create',
        '--username',
        'ada',
        '--role',
        'admin',
        '--role',
        'billing',
        '--password-stdin',
        '--json',
        ...d,
      ],
      {},
      `${password}\n`,
    );
    expect(created.code, created.stderr).toBe(0);
    const user = JSON.parse(created.stdout);
    expect(user).toMatchObject({ username: 'ada', roles: ['admin', 'billing'], disabled: false });
    expect(created.stdout).not.toContain(password);
    expect(created.stdout).not.toContain('scrypt');

    const dup = await runCli(['user', 'create', '--username', 'ADA', '--password-stdin', ...d], {}, password);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('already exists');
    const short = await runCli(['user', 'create', '--username', 'bob', '--password-stdin', ...d], {}, 'short');
    expect(short.code).not.toBe(0);
    expect(short.stderr).not.toContain('short\n');

    const list = await runCli(['user', 'list', ...d]);
    expect(list.stdout).toContain('ada  roles: admin, billing');
    const passwd = await runCli(['user', 'passwd', 'ada', '--password-stdin', ...d], {}, 'a new long password\n');
    expect(passwd.code, passwd.stderr).toBe(0);
    expect(passwd.stdout).toContain('sessions were ended');
    const disabled = await runCli(['user', 'disable', 'ada', '--json', ...d]);
    expect(JSON.parse(disabled.stdout).disabled).toBe(true);
    const enabled = await runCli(['user', 'disable', 'ada', '--enable', ...d]);
    expect(enabled.stdout).toContain('ada enabled');
    const missing = await runCli(['user', 'passwd', 'nobody', '--password-stdin', ...d], {}, 'whatever long');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such user');
    expect(up.output()).not.toContain(password);

    const endpoints = JSON.parse(readFileSync(`${tmp.dir}/endpoints.json`, 'utf8')) as {
      identity: string;
      trustBundle: string;
    };
    const agent = new Agent({
      connect: { ca: readFileSync(endpoints.trustBundle, 'utf8'), minVersion: 'TLSv1.3', servername: 'localhost' },
    });
    cleanups.push(() => agent.close());
    const page = await request(`${endpoints.identity}/oauth2/login`, { dispatcher: agent });
    const html = await page.body.text();
    expect(page.statusCode).toBe(200);
    expect(html).toContain('>Sign in</button>');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(String(page.headers['set-cookie'])).toMatch(/^__Host-gatehouse-session=.*; HttpOnly; Secure; SameSite=Lax$/);
  });
});
