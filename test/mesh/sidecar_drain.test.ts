import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { closeServer, id, meshCa, sidecarFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** An app that answers `/slow` once `release()` is called, and never answers `/hang`. */
async function slowApp(): Promise<{ server: Server; address: string; started: Promise<void>; release: () => void }> {
  let release = () => {};
  let started = () => {};
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((req, res) => {
    started();
    if (req.url === '/hang') return;
    void released.then(() => res.end('done'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, started: startedPromise, release };
}

async function pair(app: string, drainMs: number) {
  const { client } = await meshCa();
  const { sidecar: backend } = await sidecarFor(client, 'backend', app, { drainMs });
  const upstreams = [{ name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') }];
  const { sidecar: frontend } = await sidecarFor(client, 'frontend', app, {
    outbound: { host: '127.0.0.1', port: 0, upstreams },
    drainMs,
  });
  return { backend, frontend, url: `http://127.0.0.1:${frontend.outboundAddress!.port}` };
}

// Stopping a sidecar (SIGTERM) cut a request in flight after a fixed 2 s with a 502, and then waited for the app's
// answer nobody would read: the process lingered as long as the app took (up to undici's 5 minutes for a hung app).
describe('sidecar stop drains requests in flight', () => {
  it('lets a request in flight on both sidecars finish with its answer, then stops', async () => {
    const app = await slowApp();
    cleanups.push(() => closeServer(app.server));
    const { backend, frontend, url } = await pair(app.address, 30_000);
    const call = request(`${url}/slow`, { headers: { host: 'backend' } });
    await app.started;
    const stopped = Promise.all([backend.stop(), frontend.stop()]);
    // New connections are refused once the stop began; the request in flight is still served.
    await expect(request(`${url}/other`, { headers: { host: 'backend' } })).rejects.toThrow();
    setTimeout(() => app.release(), 2_500); // longer than the former fixed 2 s
    const res = await call;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('done');
    await stopped;
  }, 30_000);

  it('ends the stop after the drain period when the app never answers', async () => {
    const app = await slowApp();
    cleanups.push(() => closeServer(app.server));
    const { backend, frontend, url } = await pair(app.address, 500);
    const call = request(`${url}/hang`, { headers: { host: 'backend' } }).then(
      (res) => res.statusCode,
      () => 'closed',
    );
    await app.started;
    await Promise.all([backend.stop(), frontend.stop()]); // resolves although the app never answers
    expect(await call).not.toBe(200);
  }, 30_000);
});
