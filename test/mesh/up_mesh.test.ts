import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { startStandaloneSidecar } from '../../src/app/sidecar_standalone.js';
import { HttpCaClient } from '../../src/app/mesh_http_ca_client.js';
import { createMtlsAgent, IdentitySource } from '../../src/mesh/index.js';
import { trustingAgent } from '../support/https.js';
import { closeServer, echoApp } from './helpers.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('gatehouse up: demo mesh', () => {
  it('runs frontend → backend through two sidecars, lists them in endpoints.json and renews on demand', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const dir = join(tmp.dir, 'data');
    const { running, adminToken: token } = await startTestGatehouse({
      dataDir: dir,
      overrides: { mesh: { demo: { frontendPort: 0, backendPort: 0 } } },
    });
    cleanups.push(() => running.stop());
    const endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as {
      mesh: { frontend: string; backend: string };
      trustDomain: string;
    };
    expect(endpoints.mesh.frontend).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(endpoints.mesh.backend).toMatch(/^127\.0\.0\.1:\d+$/);
    const td = endpoints.trustDomain;

    const res = await request(`http://${endpoints.mesh.frontend}/orders/7`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({
      service: 'frontend',
      backend: { service: 'backend', caller: `spiffe://${td}/ns/demo/sa/frontend`, path: '/orders/7' },
    });
    // the backend sidecar is STRICT: no plaintext
    await expect(request(`http://${endpoints.mesh.backend}/`)).rejects.toThrow();

    const agent = trustingAgent(running.endpoints.trustBundle);
    const auth = { authorization: `Bearer ${token}` };
    const before = (await (
      await request(`${running.endpoints.admin}/v1/mesh`, { headers: auth, dispatcher: agent })
    ).body.json()) as {
      sidecars: Array<{ sidecar: string; serial_number: string; tunnels: Record<string, Record<string, unknown>> }>;
    };
    for (const s of before.sidecars) {
      // WebSocket tunnels of each side: counters and the number open now (none in this test)
      expect(s.tunnels['inbound']).toMatchObject({ open: 0, upgraded: 0, full: 0 });
      expect(s.tunnels['outbound']).toMatchObject({ open: 0, upgraded: 0, full: 0 });
    }
    const renewed = await request(`${running.endpoints.admin}/v1/mesh/renew`, {
      method: 'POST',
      headers: auth,
      dispatcher: agent,
    });
    expect(renewed.statusCode).toBe(200);
    const after = (await renewed.body.json()) as {
      sidecars: Array<{ sidecar: string; serial_number: string; spiffe_id: string }>;
    };
    expect(after.sidecars.map((s) => s.sidecar)).toEqual(['frontend', 'backend']);
    for (const [i, s] of after.sidecars.entries()) expect(s.serial_number).not.toBe(before.sidecars[i]!.serial_number);
    const unauthenticated = await request(`${running.endpoints.admin}/v1/mesh/renew`, {
      method: 'POST',
      dispatcher: agent,
    });
    expect(unauthenticated.statusCode).toBe(401);
    await unauthenticated.body.dump();

    const again = await request(`http://${endpoints.mesh.frontend}/again`);
    expect(again.statusCode).toBe(200);
    await again.body.dump();
    await agent.close();
  }, 60_000);

  it('runs a standalone sidecar against the CA listener: join token, renewal over mTLS, a peer served', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const dir = join(tmp.dir, 'data');
    const { running, adminToken: token } = await startTestGatehouse({ dataDir: dir });
    cleanups.push(() => running.stop());
    const { ca, trustBundle, trustDomain, admin } = running.endpoints as typeof running.endpoints & { ca: string };
    const adminAgent = trustingAgent(trustBundle);
    cleanups.push(() => adminAgent.close());
    const joinToken = async (spiffeId: string) => {
      const res = await request(`${admin}/v1/ca/join-tokens`, {
        method: 'POST',
        dispatcher: adminAgent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ spiffe_id: spiffeId }),
      });
      expect(res.statusCode).toBe(201);
      return ((await res.body.json()) as { token: string }).token;
    };
    const app = await echoApp('orders');
    cleanups.push(() => closeServer(app.server));
    const ordersId = `spiffe://${trustDomain}/ns/prod/sa/orders`;
    const config = loadConfig({
      overrides: {
        dataDir: dir,
        sidecar: {
          spiffeId: ordersId,
          joinToken: await joinToken(ordersId),
          ca: { url: ca, bundleFile: trustBundle },
          inbound: { port: 0, app: app.address },
        },
      },
    });
    const logger = new MemoryLogger();
    const sidecar = await startStandaloneSidecar({ config, clock: systemClock, logger });
    cleanups.push(() => sidecar.stop());
    const first = sidecar.sidecar.identity.current!;
    expect(first.spiffeId).toBe(ordersId);
    const renewed = await sidecar.sidecar.renewNow();
    expect(renewed.serialNumber).not.toBe(first.serialNumber);

    const callerId = `spiffe://${trustDomain}/ns/prod/sa/web`;
    const client = new HttpCaClient({ url: ca, bundlePem: readFileSync(trustBundle, 'utf8') });
    const callerToken = await joinToken(callerId);
    const caller = new IdentitySource({ client, credential: () => callerToken, clock: systemClock, logger });
    await caller.start();
    cleanups.push(async () => {
      caller.stop();
      await client.close();
    });
    const agent = createMtlsAgent({ identity: caller, trustDomain, expect: ordersId });
    cleanups.push(() => agent.close());
    const res = await request(`https://127.0.0.1:${sidecar.sidecar.inboundAddress.port}/list`, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    const echo = (await res.body.json()) as { headers: Record<string, string> };
    expect(echo.headers['x-forwarded-client-cert']).toContain(`URI=${callerId}`);
  }, 60_000);
});
