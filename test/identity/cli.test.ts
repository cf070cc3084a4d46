import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('gatehouse api / client / signing-keys (CLI against a running gatehouse up)', () => {
  it('round-trips APIs, clients and key rotation, and the issued client gets a token over TLS 1.3', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const up = await startUp(tmp.dir, { GATEHOUSE_LISTEN__IDENTITY__PORT: '0', GATEHOUSE_LISTEN__KMS__PORT: '0' });
    cleanups.push(async () => {
      up.child.kill('SIGTERM');
      await exitOf(up.child);
    });
    const d = ['--data-dir', tmp.dir];
    const endpoints = JSON.parse(readFileSync(`${tmp.dir}/endpoints.json`, 'utf8')) as { identity: string };
    expect(endpoints.identity).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const api = await runCli([
      'api',
      'create',
      '--audience',
      'https://orders.internal',
      '--scope',
      'orders:read=read your orders',
      '--json',
      ...d,
    ]);
    expect(api.code, api.stderr).toBe(0);
    expect(JSON.parse(api.stdout).scopes).toEqual([{ name: 'orders:read', description: 'read your orders' }]);

    const created = await runCli([
      'client',
      'create',
      '--name',
      'billing',
      '--grant',
      'client_credentials',
      '--scope',
      'orders:read',
      '--access-token-ttl',
      '5m',
      '--json',
      ...d,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);
    expect(secret).toMatch(/^ghcs_/);
    expect(clientId).toMatch(/^ghc_[A-Za-z0-9_-]{22}$/); // never a leading '-' a CLI would read as an option

    const list = JSON.parse((await runCli(['client', 'list', '--json', ...d])).stdout);
    expect(list.clients.map((c: { client_id: string }) => c.client_id)).toEqual([clientId]);
    const show = await runCli(['client', 'show', clientId, '--json', ...d]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toContain(secret);
    expect(JSON.parse(show.stdout).access_token_ttl_ms).toBe(300_000);

    const agent = new Agent({
      connect: { ca: readFileSync(`${tmp.dir}/trust-bundle.pem`, 'utf8'), servername: 'localhost' },
    });
    cleanups.push(() => agent.close());
    const tokenFor = async (s: string) => {
      const res = await request(`${endpoints.identity}/oauth2/token`, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${s}`).toString('base64')}`,
        },
        body: 'grant_type=client_credentials',
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    const token = await tokenFor(secret);
    expect(token.status).toBe(200);
    expect(token.body.expires_in).toBe(300);

    const rotated = await runCli(['client', 'rotate-secret', clientId, '--overlap', '1s', '--json', ...d]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newSecret = JSON.parse(rotated.stdout).client_secret;
    expect(newSecret).not.toBe(secret);
    expect((await tokenFor(newSecret)).status).toBe(200);

    const keys = await runCli(['signing-keys', 'rotate', '--json', ...d]);
    expect(keys.code, keys.stderr).toBe(0);
    const alias = await runCli(['keys', 'rotate', '--json', ...d]);
    expect(JSON.parse(alias.stdout).kid).toBe(JSON.parse(keys.stdout).kid); // pending key: same one

    const jwks = await request(`${endpoints.identity}/.well-known/jwks.json`, { dispatcher: agent });
    // The access-token (ES256) set now publishes the current and the pre-published key; the RS256 ID-token set
    // rotates on its own schedule and keeps its one key.
    const all = ((await jwks.body.json()) as { keys: Array<{ kid: string; alg: string }> }).keys;
    const published = all.filter((k) => k.alg === 'ES256').map((k) => k.kid);
    expect(published).toContain(JSON.parse(keys.stdout).kid);
    expect(published).toHaveLength(2);
    expect(all.filter((k) => k.alg === 'RS256')).toHaveLength(1);

    const deleted = await runCli(['client', 'delete', clientId, ...d]);
    expect(deleted.code, deleted.stderr).toBe(0);
    const missing = await runCli(['client', 'show', clientId, ...d]);
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe('');
  }, 60_000);
});
