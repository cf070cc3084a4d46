import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { getJson, trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse, type TestGatehouse } from '../support/up.js';

interface Report {
  checked_at: string;
  findings: Array<{ check: string; severity: string; summary: string; fix: string; subjects?: string[] }>;
  passed: string[];
}

// `GET /v1/doctor` on a real `gatehouse up`: the facts are read off the running process (files, store, the gateway
// section in force after a reload), not off the start configuration alone.
describe('gatehouse up: the posture audit of the admin API', () => {
  const tmp = tempDir('gh-doctor-');
  let up: TestGatehouse;
  let agent: Agent;

  beforeAll(async () => {
    up = await startTestGatehouse({ dataDir: join(tmp.dir, 'data'), rootKey: { env: 'cd'.repeat(32) } });
    agent = trustingAgent(up.running.endpoints.trustBundle);
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await up?.stop();
    tmp.remove();
  });

  const doctor = async () => {
    const answer = await getJson(agent, `${up.running.endpoints.admin}/v1/doctor`, { token: up.adminToken });
    expect(answer.status).toBe(200);
    return answer.body as Report;
  };

  it('needs the admin token', async () => {
    const anonymous = await getJson(agent, `${up.running.endpoints.admin}/v1/doctor`);
    expect(anonymous.status).toBe(401);
    expect((anonymous.body as { code: string }).code).toBe('ERR_ADMIN_UNAUTHORIZED');
  });

  it('finds nothing on the defaults with the root key outside the data directory', async () => {
    const report = await doctor();
    expect(report.findings).toEqual([]);
    expect(report.passed).toContain('root_key.location');
    expect(report.passed).toContain('gateway.public_routes'); // the demo route needs an API key
    expect(Date.parse(report.checked_at)).not.toBeNaN();
  });

  it('reads file modes and store records as they are now', async () => {
    chmodSync(up.running.paths.adminToken, 0o644);
    try {
      const created = await getJson(agent, `${up.running.endpoints.admin}/v1/identity/api-keys`, {
        token: up.adminToken,
        method: 'POST',
        body: { name: 'forever', scope: 'demo' },
      });
      expect(created.status).toBe(201);
      const report = await doctor();
      expect(report.findings.map((f) => [f.severity, f.check])).toEqual([
        ['critical', 'admin_token.file_mode'],
        ['notice', 'identity.api_key_expiry'],
      ]);
      expect(report.findings[0]?.subjects).toEqual([up.running.paths.adminToken]);
      expect(report.findings[1]?.subjects).toEqual([`${(created.body as { id: string }).id} (forever)`]);
    } finally {
      chmodSync(up.running.paths.adminToken, 0o600);
    }
  });

  it('judges the gateway routes in force after a SIGHUP-style reload', async () => {
    const section = configSchema.parse({
      gateway: {
        trustedProxies: ['0.0.0.0/0'],
        upstreams: [{ name: 'app', hosts: ['http://127.0.0.1:9'] }],
        routes: [{ name: 'wide-open', pathPrefix: '/open/', upstream: 'app', waf: { mode: 'off' } }],
      },
    }).gateway;
    await up.running.reloadGateway(section);
    const report = await doctor();
    expect(report.findings.map((f) => [f.severity, f.check, f.subjects])).toEqual([
      ['critical', 'gateway.trusted_proxies', ['0.0.0.0/0']],
      ['warning', 'gateway.waf_mode', ['wide-open (off)']],
      ['notice', 'identity.api_key_expiry', expect.any(Array)],
      ['notice', 'gateway.public_routes', ['wide-open']],
    ]);
  });
});
