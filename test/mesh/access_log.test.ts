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
  let backendSidecar: Sidecar;

  beforeAll(async () => {
    const { client } = await meshCa();
    const app = await echoApp('backend');
    cleanups.push(() => closeServer(app.server));
    const backend = await sidecarFor(client, 'backend', app.address, { policies: frontendOnly });
    backendLog = backend.logger;
    backendSidecar = backend.sidecar;
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

  it('counts request durations by side and upstream (with accessLog: false too), never for an unknown service', async () => {
    const NAME = 'gatehouse_sidecar_request_duration_seconds';
    const count = (text: string, labels: string) =>
      Number(new RegExp(`^${NAME}_count\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    const before = {
      front: count(frontend.metricsText(), 'side="outbound",upstream="backend"'),
      quiet: count(quiet.metricsText(), 'side="outbound",upstream="backend"'),
      backend: count(backendSidecar.metricsText(), 'side="inbound"'),
    };
    expect(await send(frontend, '/timed/1')).toBe(200);
    expect(await send(frontend, '/timed/2')).toBe(200);
    expect(await send(quiet, '/timed/3')).toBe(403); // outside the backend's policy: an answer all the same
    expect(await send(frontend, '/x', { host: 'nope' })).toBe(404); // the sidecar's own: no upstream of that name
    await expect
      .poll(() => count(frontend.metricsText(), 'side="outbound",upstream="backend"'))
      .toBe((Number.isNaN(before.front) ? 0 : before.front) + 2);
    expect(count(quiet.metricsText(), 'side="outbound",upstream="backend"')).toBe(
      (Number.isNaN(before.quiet) ? 0 : before.quiet) + 1,
    );
    const text = frontend.metricsText();
    expect(text).toContain(`# TYPE ${NAME} histogram`);
    expect(text).not.toContain('upstream="nope"');
    // Cumulative buckets ending at the count, on each side.
    const buckets = [
      ...text.matchAll(
        new RegExp(`^${NAME}_bucket\\{le="([^"]+)",side="outbound",upstream="backend"\\} (\\d+)$`, 'gm'),
      ),
    ];
    expect(buckets.at(-1)?.[1]).toBe('+Inf');
    expect(Number(buckets.at(-1)?.[2])).toBe(count(text, 'side="outbound",upstream="backend"'));
    const values = buckets.map((m) => Number(m[2]));
    expect(values).toEqual([...values].sort((a, b) => a - b));
    // The backend's inbound side counted the calls it answered (the frontend's two, its refusal of the third).
    await expect.poll(() => count(backendSidecar.metricsText(), 'side="inbound"')).toBe(before.backend + 3);
    expect(count(frontend.metricsText(), 'side="inbound"')).toBe(0);
  });
});
