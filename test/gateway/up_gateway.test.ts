import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGatehouse } from '../../src/app/index.js';
import { configSchema } from '../../src/config/index.js';
import { trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

describe('the gateway in gatehouse up', () => {
  const tmp = tempDir();
  let running: RunningGatehouse;
  let agent: ReturnType<typeof trustingAgent>;
  beforeAll(async () => {
    ({ running } = await startTestGatehouse({ dataDir: join(tmp.dir, 'data'), demoMesh: true }));
    agent = trustingAgent(running.endpoints.trustBundle);
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await running?.stop();
    tmp.remove();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${running.endpoints.gateway}${path}`, { headers, dispatcher: agent });
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown> };
  };

  it('listens over TLS 1.3 with a platform CA certificate and lists itself in endpoints.json', () => {
    expect(running.endpoints.gateway).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('routes /demo/ to the demo backend behind an API key with scope demo', async () => {
    const missing = await get('/demo/hello');
    expect(missing.status).toBe(401);
    expect(missing.body['code']).toBe('ERR_TOKEN_MISSING');
    const nope = await get('/nothing-here');
    expect(nope.status).toBe(404);
  });

  it('reloads the gateway section (SIGHUP path) keeping the demo route', async () => {
    const section = configSchema.parse({
      gateway: { routes: [{ name: 'open', pathPrefix: '/open/', upstream: 'demo' }] },
    }).gateway;
    await running.reloadGateway(section);
    const open = await get('/open/x', { 'x-gatehouse-sub': 'spoofed' });
    expect(open.status).toBe(200);
    expect(open.body).toMatchObject({ message: 'hello from the gatehouse demo backend', path: '/open/x', sub: null });
    expect((await get('/demo/hello')).status).toBe(401);
  });

  it('serves the gateway metrics on the admin listener behind the admin token', async () => {
    const url = `${running.endpoints.admin}/metrics`;
    const anonymous = await request(url, { dispatcher: agent });
    await anonymous.body.text();
    expect(anonymous.statusCode).toBe(401);
    const token = readFileSync(running.paths.adminToken, 'utf8').trim();
    const res = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    expect(text).toContain('gatehouse_gateway_requests_total{route="demo",status="401"}');
    // The CA's expiry gauges come first, in step with `ca status`.
    expect(text.startsWith('# HELP gatehouse_ca_certificate_expiry_seconds')).toBe(true);
    const status = await request(`${running.endpoints.admin}/v1/ca/status`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
    });
    const ca = (await status.body.json()) as Record<'root' | 'intermediate', { expiry_seconds: number }>;
    for (const certificate of ['root', 'intermediate'] as const) {
      const line = new RegExp(
        `^gatehouse_ca_certificate_expiry_seconds\\{certificate="${certificate}"\\} (\\d+)$`,
        'm',
      );
      const seconds = Number(line.exec(text)?.[1]);
      expect(seconds).toBeGreaterThan(0);
      expect(Math.abs(seconds - ca[certificate].expiry_seconds)).toBeLessThanOrEqual(60);
    }
    expect(text).toMatch(/^gatehouse_ca_expiry_warnings 0$/m);
    // The platform listeners' requests, by route pattern; a path no route knows is `(unmatched)`.
    const unknown = await request(`${running.endpoints.admin}/v1/no/such/thing`, { dispatcher: agent });
    await unknown.body.text();
    expect(unknown.statusCode).toBe(404);
    const again = await (
      await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } })
    ).body.text();
    expect(again).toContain(
      'gatehouse_http_requests_total{listener="admin",method="GET",route="/v1/ca/status",status="200"} 1\n',
    );
    expect(again).toContain(
      'gatehouse_http_requests_total{listener="admin",method="GET",route="(unmatched)",status="404"} 1\n',
    );
    expect(again).toMatch(
      /^gatehouse_http_request_duration_seconds_count\{listener="admin",method="GET",route="\/v1\/ca\/status"\} 1$/m,
    );
    // The sources are concatenated: still one HELP and one TYPE per family, as the exposition format requires.
    for (const kind of ['HELP', 'TYPE']) {
      const names = again
        .split('\n')
        .filter((l) => l.startsWith(`# ${kind} `))
        .map((l) => l.split(' ')[2]);
      expect(names.length).toBeGreaterThan(10);
      expect(new Set(names).size).toBe(names.length);
    }
  });
});
