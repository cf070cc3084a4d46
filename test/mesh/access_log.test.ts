import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryLogger } from '../../src/core/index.js';
import type { Sidecar } from '../../src/mesh/index.js';
import { closeServer, echoApp, frontendOnly, id, meshCa, raw, sidecarFor } from './helpers.js';

type Line = Record<string, unknown>;

describe('sidecar access logs', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let frontend: Sidecar;
  let frontendLog: MemoryLogger;
  let backendLog: MemoryLogger;
  let quiet: Sidecar;
  let quietLog: MemoryLogger;

  beforeAll(async () => {
    const { client } = await meshCa();
    const app = await echoApp('backend');
    cleanups.push(() => closeServer(app.server));
    const backend = await sidecarFor(client, 'backend', app.address, { policies: frontendOnly });
    backendLog = backend.logger;
    cleanups.push(() => backend.sidecar.stop());
    const upstreams = [
      { name: 'backend', address: `127.0.0.1:${backend.sidecar.inboundAddress.port}`, spiffeId: id('backend') },
    ];
    const front = await sidecarFor(client, 'frontend', app.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
    });
    ({ sidecar: frontend, logger: frontendLog } = front);
    cleanups.push(() => frontend.stop());
    const other = await sidecarFor(client, 'intruder', app.address, {
      outbound: { host: '127.0.0.1', port: 0, upstreams },
      accessLog: false,
    });
    ({ sidecar: quiet, logger: quietLog } = other);
    cleanups.push(() => quiet.stop());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const access = (logger: MemoryLogger): Line[] => logger.lines.filter((l) => l.log === 'access') as Line[];
  const send = async (sidecar: Sidecar, path: string, headers: Record<string, string> = {}) => {
    const res = await request(`http://127.0.0.1:${sidecar.outboundAddress!.port}${path}`, {
      headers: { host: 'backend', ...headers },
    });
    await res.body.dump();
    return res.statusCode;
  };

  it('writes one line per request on each side: who called, what, the status and how long it took', async () => {
    expect(await send(frontend, '/orders/7?secret=1', { 'x-request-id': 'req-42', 'user-agent': 'shop/1.0' })).toBe(
      200,
    );
    await expect.poll(() => access(backendLog).length).toBeGreaterThan(0);
    await expect.poll(() => access(frontendLog).length).toBeGreaterThan(0);
    const inbound = access(backendLog).at(-1)!;
    expect(inbound).toMatchObject({
      side: 'inbound',
      method: 'GET',
      path: '/orders/7', // never the query
      status: 200,
      peer: id('frontend'),
      request_id: 'req-42',
      user_agent: 'shop/1.0',
      msg: 'access',
    });
    expect(typeof inbound.duration_ms).toBe('number');
    expect(access(frontendLog).at(-1)).toMatchObject({
      side: 'outbound',
      method: 'GET',
      path: '/orders/7',
      status: 200,
      upstream: 'backend',
    });
  });

  it("logs the sidecar's own refusals too, and nothing with accessLog: false", async () => {
    expect(await send(quiet, '/admin')).toBe(403); // the backend's policy lets only the frontend in
    await expect.poll(() => access(backendLog).some((l) => l.status === 403)).toBe(true);
    expect(access(backendLog).find((l) => l.status === 403)).toMatchObject({ peer: id('intruder'), path: '/admin' });
    expect(access(quietLog)).toEqual([]);
    expect(await send(frontend, '/x', { host: 'nowhere' })).toBe(404);
    await expect.poll(() => access(frontendLog).some((l) => l.status === 404)).toBe(true);
    expect(access(frontendLog).find((l) => l.status === 404)).toMatchObject({ side: 'outbound', upstream: 'nowhere' });
  });

  it('logs requests that arrive on the upgrade event too (a refused protocol switch)', async () => {
    const answer = await raw(
      frontend.outboundAddress!.port,
      'GET /switch HTTP/1.1\r\nHost: backend\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 501/);
    await expect.poll(() => access(frontendLog).some((l) => l.path === '/switch')).toBe(true);
    expect(access(frontendLog).filter((l) => l.path === '/switch')).toEqual([
      expect.objectContaining({ side: 'outbound', status: 501, upstream: 'backend' }),
    ]);
  });
});
