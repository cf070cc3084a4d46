import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { getJson, trustingAgent } from '../../support/https.js';
import { tempDir } from '../../support/tmp.js';
import { startTestGatehouse } from '../../support/up.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('device flow on the identity listener of gatehouse up', () => {
  it('metadata names the device authorization endpoint; the endpoint and the device page answer over TLS', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { running } = await startTestGatehouse({ dataDir: tmp.dir, demoMesh: true });
    cleanups.push(() => running.stop());
    const agent = trustingAgent(running.endpoints.trustBundle);
    cleanups.push(() => agent.close());
    const base = running.endpoints.identity;

    const metadata = await getJson(agent, `${base}/.well-known/oauth-authorization-server`);
    const doc = metadata.body as Record<string, unknown>;
    expect(doc.device_authorization_endpoint).toBe(`${doc.issuer as string}/oauth2/device_authorization`);
    expect(doc.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:device_code');

    const unknownClient = await request(`${base}/oauth2/device_authorization`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=nobody',
    });
    expect(unknownClient.statusCode).toBe(400);
    expect(((await unknownClient.body.json()) as { error: string }).error).toBe('invalid_client');

    const page = await request(`${base}/oauth2/device`, { dispatcher: agent });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(await page.body.text()).toContain('>Sign in</button>');
  });
});
