import { readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A `gatehouse up` child process on a temporary data directory, stopped and removed after the test. */
async function runningUp() {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  const up = await startUp(tmp.dir, { GATEHOUSE_LISTEN__IDENTITY__PORT: '0', GATEHOUSE_LISTEN__KMS__PORT: '0' });
  cleanups.push(async () => {
    up.child.kill('SIGTERM');
    await exitOf(up.child);
  });
  return { tmp, d: ['--data-dir', tmp.dir] };
}

describe('gatehouse api / client / signing-keys (CLI against a running gatehouse up)', () => {
  it('round-trips APIs, clients and key rotation, and the issued client gets a token over TLS 1.3', async () => {
    const { tmp, d } = await runningUp();
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

  it('client create carries every flag into the stored client, and refuses bad ones with exit 2 or a typed error', async () => {
    const { tmp, d } = await runningUp();
    const show = async (id: string) => JSON.parse((await runCli(['client', 'show', id, '--json', ...d])).stdout);
    const api = await runCli([
      'api',
      'create',
      '--audience',
      'https://orders.internal',
      '--scope',
      'orders:read=read',
      ...d,
    ]);
    expect(api.code, api.stderr).toBe(0);

    // A public web/mobile app: code + refresh, exact redirect URIs, CORS origin, ES256 ID tokens, logout return URI.
    const app = await runCli([
      'client',
      'create',
      '--name',
      'web',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--public',
      '--scope',
      'orders:read',
      '--redirect-uri',
      'https://app.example/cb',
      '--redirect-uri',
      'http://127.0.0.1/native',
      '--allowed-origin',
      'https://app.example',
      '--id-token-alg',
      'ES256',
      '--post-logout-redirect-uri',
      'https://app.example/bye',
      '--json',
      ...d,
    ]);
    expect(app.code, app.stderr).toBe(0);
    const web = JSON.parse(app.stdout);
    expect(web.client_secret).toBeUndefined(); // public: no secret
    const webView = await show(web.client_id);
    expect(webView).toMatchObject({
      public: true,
      auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      scopes: ['orders:read'],
      redirect_uris: ['https://app.example/cb', 'http://127.0.0.1/native'],
      allowed_origins: ['https://app.example'],
      id_token_signed_response_alg: 'ES256',
      post_logout_redirect_uris: ['https://app.example/bye'],
      legacy_implicit: false,
    });

    // A confidential service: private_key_jwt with its JWKS, roles, audiences, SPIFFE IDs, RFC 8705 SAN, token TTL.
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'svc-1', alg: 'ES256', use: 'sig' };
    const jwksFile = `${tmp.dir}/svc-jwks.json`;
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    const svc = await runCli([
      'client',
      'create',
      '--name',
      'svc',
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      jwksFile,
      '--role',
      'resource-server',
      '--audience',
      'https://orders.internal',
      '--access-token-ttl',
      '2m',
      '--spiffe-id',
      'spiffe://gatehouse.local/ns/prod/sa/svc',
      '--json',
      ...d,
    ]);
    expect(svc.code, svc.stderr).toBe(0);
    const svcView = await show(JSON.parse(svc.stdout).client_id);
    expect(svcView).toMatchObject({
      auth_method: 'private_key_jwt',
      roles: ['resource-server'],
      audiences: ['https://orders.internal'],
      access_token_ttl_ms: 120_000,
      spiffe_ids: ['spiffe://gatehouse.local/ns/prod/sa/svc'],
    });
    expect(svcView.jwks.keys[0]).toMatchObject({ kid: 'svc-1', kty: 'EC', crv: 'P-256' });

    // Legacy implicit is a per-client opt-in on top of the global switch.
    const legacy = await runCli([
      'client',
      'create',
      '--name',
      'old-spa',
      '--grant',
      'implicit',
      '--public',
      '--legacy-implicit',
      '--redirect-uri',
      'https://old.example/cb',
      '--json',
      ...d,
    ]);
    if (legacy.code === 0) expect((await show(JSON.parse(legacy.stdout).client_id)).legacy_implicit).toBe(true);
    else expect(legacy.stderr).toMatch(/implicit/i); // refused while the global legacy switch is off

    // Bad input: a usage error exits 2; a value the server refuses names the problem and exits non-zero.
    const missingName = await runCli(['client', 'create', '--grant', 'client_credentials', ...d]);
    expect(missingName.code).toBe(2);
    expect(missingName.stderr).toMatch(/--name/);
    const badAlg = await runCli([
      'client',
      'create',
      '--name',
      'x',
      '--grant',
      'authorization_code',
      '--public',
      '--redirect-uri',
      'https://x.example/cb',
      '--id-token-alg',
      'HS256',
      ...d,
    ]);
    expect(badAlg.code).not.toBe(0);
    expect(badAlg.stderr).toMatch(/HS256|id_token_signed_response_alg|alg/i);
    const badRedirect = await runCli([
      'client',
      'create',
      '--name',
      'x',
      '--grant',
      'authorization_code',
      '--public',
      '--redirect-uri',
      'https://x.example/cb#fragment',
      ...d,
    ]);
    expect(badRedirect.code).not.toBe(0);
    expect(badRedirect.stderr).toMatch(/redirect/i);
    const list = JSON.parse((await runCli(['client', 'list', '--json', ...d])).stdout);
    expect(list.clients.map((c: { name: string }) => c.name).sort()).toEqual(
      legacy.code === 0 ? ['old-spa', 'svc', 'web'] : ['svc', 'web'],
    ); // nothing half-created by the refused calls
  }, 180_000); // a dozen CLI processes, each a few seconds on a loaded 2-core machine
});
