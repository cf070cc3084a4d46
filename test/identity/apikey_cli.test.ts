import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { exitOf, runCli, startUp } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const tmp = tempDir();
let up: Awaited<ReturnType<typeof startUp>>;
let agent: Agent;
let gateway: string;
const d = () => ['--data-dir', tmp.dir];

beforeAll(async () => {
  up = await startUp(tmp.dir);
  const endpoints = JSON.parse(readFileSync(`${tmp.dir}/endpoints.json`, 'utf8')) as { gateway: string };
  gateway = endpoints.gateway;
  agent = new Agent({
    connect: { ca: readFileSync(up.endpoints.trustBundle, 'utf8'), minVersion: 'TLSv1.3', servername: 'localhost' },
  });
}, 90_000);

afterAll(async () => {
  await agent?.close();
  up?.child.kill('SIGTERM');
  if (up) await exitOf(up.child);
  tmp.remove();
});

async function demo(headers: Record<string, string>): Promise<number> {
  const res = await request(`${gateway}/demo/hello`, { dispatcher: agent, headers });
  await res.body.text();
  return res.statusCode;
}

describe('gatehouse apikey (CLI against a running gatehouse up)', () => {
  it('create prints the key once; the key works on the gateway demo route; list never shows it', async () => {
    const created = await runCli(['apikey', 'create', '--name', 'demo', '--scope', 'demo', '--json', ...d()]);
    expect(created.code, created.stderr).toBe(0);
    const { id, key, api_key: view } = JSON.parse(created.stdout);
    expect(id).toMatch(/^ak_/);
    expect(key).toMatch(/^ghk_[A-Za-z0-9_-]{49}$/);
    expect(view).toMatchObject({ id, name: 'demo', scopes: ['demo'], revoked_at: null, expires_at: null });
    expect(await demo({ 'x-api-key': key })).toBe(200);
    expect(await demo({ authorization: `Bearer ${key}` })).toBe(200);
    expect(await demo({})).toBe(401);

    const human = await runCli(['apikey', 'create', '--name', 'other', '--scope', 'kms:encrypt:orders', ...d()]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^id {3}ak_/m);
    expect(human.stdout).toMatch(/^key {2}ghk_/m);
    expect(human.stdout).toContain('shown only now');
    const otherKey = /^key {2}(ghk_\S+)$/m.exec(human.stdout)?.[1] as string;
    expect(await demo({ 'x-api-key': otherKey })).toBe(403); // valid key, no demo scope

    const list = await runCli(['apikey', 'list', '--json', ...d()]);
    expect(list.code, list.stderr).toBe(0);
    expect(
      JSON.parse(list.stdout)
        .api_keys.map((k: { name: string }) => k.name)
        .sort(),
    ).toEqual(['demo', 'other']);
    expect(list.stdout).not.toContain('ghk_');
    const listed = await runCli(['apikey', 'list', ...d()]);
    expect(listed.stdout).toContain(id);
  });

  it('rotate with an overlap of 0 switches keys at once; revoke is effective at once; expiry is shown', async () => {
    const created = JSON.parse(
      (await runCli(['apikey', 'create', '--name', 'svc', '--scope', 'demo', '--expires-in', '30d', '--json', ...d()]))
        .stdout,
    );
    expect(Date.parse(created.api_key.expires_at) - Date.parse(created.api_key.created_at)).toBe(30 * 86_400_000);
    const rotated = await runCli(['apikey', 'rotate', created.id, '--overlap', '0s', '--json', ...d()]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const next = JSON.parse(rotated.stdout);
    expect(next.id).toBe(created.id);
    expect(next.key).not.toBe(created.key);
    expect(await demo({ 'x-api-key': created.key })).toBe(401);
    expect(await demo({ 'x-api-key': next.key })).toBe(200);

    const revoked = await runCli(['apikey', 'revoke', created.id, ...d()]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked API key ${created.id}`);
    expect(await demo({ 'x-api-key': next.key })).toBe(401);
    const show = JSON.parse((await runCli(['apikey', 'show', created.id, '--json', ...d()])).stdout);
    expect(show.revoked_at).not.toBeNull();
    expect(show.last_used_at).not.toBeNull();

    const missing = await runCli(['apikey', 'show', 'ak_missing', ...d()]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such API key');
    const bad = await runCli(['apikey', 'create', '--name', 'x', '--expires-in', 'soon', ...d()]);
    expect(bad.code).not.toBe(0);
  });
});
