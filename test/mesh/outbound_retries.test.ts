import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import type { Sidecar } from '../../src/mesh/index.js';
import { deadAddress } from '../support/dead_address.js';
import { closeServer, id, meshCa, sidecarFor } from './helpers.js';

describe('sidecar outbound retries (2 more attempts on connect failures and resets by default; 503 here too)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let frontend: Sidecar;
  let app: Server;
  /** Statuses the backend app answers next (then 200). */
  const next: number[] = [];
  const seen: string[] = [];
  /** SHA-256 of each request body the backend app read whole. */
  const digests: string[] = [];

  beforeAll(async () => {
    const { client } = await meshCa();
    app = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => digests.push(hash.digest('hex')));
      const status = next.shift() ?? 200;
      const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(`status ${status}`);
      }, delay);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    cleanups.push(() => closeServer(app));
    const { sidecar: backend } = await sidecarFor(client, 'backend', appAddress);
    cleanups.push(() => backend.stop());
    const dead = await deadAddress();
    ({ sidecar: frontend } = await sidecarFor(client, 'frontend', appAddress, {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [
          {
            name: 'backend',
            address: `127.0.0.1:${backend.inboundAddress.port}`,
            spiffeId: id('backend'),
            retries: { attempts: 2, on: ['connect-failure', 'reset', 503], budget: 0.2 },
          },
          { name: 'gone', address: dead, spiffeId: id('gone') },
          {
            name: 'once',
            address: dead,
            spiffeId: id('gone'),
            retries: { attempts: 0, on: ['connect-failure'], budget: 0.2 },
          },
          // A refused connection is not retried here: a body still arriving is not waited for.
          {
            name: 'resetonly',
            address: dead,
            spiffeId: id('gone'),
            retries: { attempts: 2, on: ['reset'], budget: 0.2 },
          },
        ],
      },
      breaker: { consecutiveFailures: 1000, openDurationMs: 1000 },
    }));
    cleanups.push(() => frontend.stop());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const call = async (service: string, path: string, method = 'GET', body?: string | Buffer) => {
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}${path}`, {
      method: method as 'GET',
      headers: { host: service },
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.statusCode, text: await res.body.text() };
  };

  it('sends a GET answered 503 again and relays the answer that follows', async () => {
    const before = frontend.stats().outboundRequests!.retries.status;
    next.push(503, 503);
    seen.length = 0;
    expect(await call('backend', '/a')).toEqual({ status: 200, text: 'status 200' });
    expect(seen).toEqual(['GET /a', 'GET /a', 'GET /a']);
    expect(frontend.stats().outboundRequests!.retries.status - before).toBe(2);
    // Three 503s in a row: the third is relayed whole.
    next.push(503, 503, 503);
    expect(await call('backend', '/b')).toEqual({ status: 503, text: 'status 503' });
  });

  it('relays a 503 to a POST as it came (the app may have acted on it)', async () => {
    next.push(503);
    seen.length = 0;
    expect(await call('backend', '/p', 'POST', 'x=1')).toEqual({ status: 503, text: 'status 503' });
    expect(seen).toEqual(['POST /p']);
  });

  it('tries a peer that refuses connections three times, any bodiless method, then answers 502', async () => {
    const before = frontend.stats().outboundRequests!.retries['connect-failure'];
    const get = await call('gone', '/x');
    expect(get.status).toBe(502);
    expect(frontend.stats().outboundRequests!.retries['connect-failure'] - before).toBe(2);
    await call('gone', '/x', 'DELETE', '');
    expect(frontend.stats().outboundRequests!.retries['connect-failure'] - before).toBe(4);
    // A small body is kept while it streams: sent again too.
    expect((await call('gone', '/x', 'POST', 'payload')).status).toBe(502);
    expect(frontend.stats().outboundRequests!.retries['connect-failure'] - before).toBe(6);
    // attempts: 0 turns retries off.
    expect((await call('once', '/x')).status).toBe(502);
    expect(frontend.stats().outboundRequests!.retries['connect-failure'] - before).toBe(6);
  });

  it('answers at once a failure it will not retry, whatever the body still to come', async () => {
    const before = { ...frontend.stats().outboundRequests!.retries };
    const body = new PassThrough();
    body.write('x'.repeat(10)); // of a declared 100: the rest never comes
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/x`, {
      method: 'POST',
      headers: { host: 'resetonly', 'content-length': '100' },
      body,
    }).catch((err: Error) => ({ statusCode: 0, body: { text: async () => err.message } }));
    expect(res.statusCode).toBe(502);
    await res.body.text();
    body.destroy();
    expect(frontend.stats().outboundRequests!.retries).toEqual(before);
  });

  it('sends a small body again whole after a listed status, not one over 64 KiB', async () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const small = randomBytes(40_000);
    next.push(503);
    seen.length = 0;
    digests.length = 0;
    expect(await call('backend', '/put', 'PUT', small)).toEqual({ status: 200, text: 'status 200' });
    expect(seen).toEqual(['PUT /put', 'PUT /put']);
    await expect.poll(() => digests.length).toBe(2);
    expect(digests[1]).toBe(sha(small));
    const big = randomBytes(70_000);
    next.push(503);
    seen.length = 0;
    digests.length = 0;
    expect(await call('backend', '/put', 'PUT', big)).toEqual({ status: 503, text: 'status 503' });
    expect(seen).toEqual(['PUT /put']); // not kept: relayed as it came
    await expect.poll(() => digests.length).toBe(1);
    expect(digests[0]).toBe(sha(big));
  });

  it('gives the breaker its trial back when the app leaves before the answer (half-open stays usable)', async () => {
    const { client } = await meshCa();
    const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    const { sidecar: backend } = await sidecarFor(client, 'backend', appAddress);
    const { sidecar: caller } = await sidecarFor(client, 'frontend', appAddress, {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [
          {
            name: 'backend',
            address: `127.0.0.1:${backend.inboundAddress.port}`,
            spiffeId: id('backend'),
            retries: { attempts: 0, on: [], budget: 0.2 },
          },
        ],
      },
      breaker: { consecutiveFailures: 1, openDurationMs: 200 },
    });
    try {
      const url = `http://127.0.0.1:${caller.outboundAddress!.port}`;
      next.push(502);
      const failed = await request(`${url}/f`, { headers: { host: 'backend' } });
      await failed.body.dump();
      expect(caller.stats().breakers).toEqual([{ upstream: 'backend', state: 'open' }]);
      await new Promise((resolve) => setTimeout(resolve, 250));
      // The half-open trial: the app answers after 300 ms, the caller leaves at 50 ms.
      await expect(
        request(`${url}/trial?delay=300`, { headers: { host: 'backend' }, signal: AbortSignal.timeout(50) }),
      ).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 400));
      const after = await request(`${url}/after`, { headers: { host: 'backend' } });
      await after.body.dump();
      expect(after.statusCode).toBe(200); // not 503 ERR_CIRCUIT_OPEN: the trial slot was given back
    } finally {
      await caller.stop();
      await backend.stop();
    }
  });

  it('has the defaults in the schema: 2 more attempts on connect failures and resets', () => {
    const sidecar = configSchema.parse({
      sidecar: {
        ca: { url: 'https://127.0.0.1:8445', bundleFile: 'bundle.pem' },
        outbound: { upstreams: [{ name: 'b', address: '127.0.0.1:1', spiffeId: id('b') }] },
      },
    }).sidecar!;
    expect(sidecar.outbound.upstreams[0]!.retries).toEqual({
      attempts: 2,
      on: ['connect-failure', 'refused-stream', 'reset'],
      budget: 0.2,
    });
  });
});
