// A caller's large upload over an h2 upstream to a far app that never reads it: the stream to the peer stalls on
// HTTP/2 flow control with body bytes still queued. The peer answers anyway (its app timed out: 504) and resets the
// stream; the caller has left meanwhile. The calling sidecar's stop() waited for that stream forever.
import { createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/mesh/index.js';
import { closeServer, id, meshCa, sidecarFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** An app that takes requests and never reads their body nor answers. */
async function deafApp(): Promise<{ server: Server; address: string; started: Promise<void> }> {
  let started = () => {};
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const server = createServer((req: IncomingMessage) => {
    req.pause();
    started();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, started: startedPromise };
}

/** Liveness bound (not a speed one): far above the sidecars' 500 ms drain. */
const BOUND_MS = 10_000;

function within<T>(work: Promise<T>, what: string): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`${what} still pending`), BOUND_MS)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * A backend sidecar (inbound h2, its app given `appTimeoutMs` to answer) in front of `app`, and a frontend calling it
 * as the h2 upstream `backend`.
 */
async function h2Pair(app: string, appTimeoutMs?: number) {
  const { client } = await meshCa();
  const { sidecar: backend } = await sidecarFor(client, 'backend', app, {
    inbound: { host: '127.0.0.1', port: 0, app, http2: true, ...(appTimeoutMs ? { timeoutMs: appTimeoutMs } : {}) },
    drainMs: 500,
  });
  cleanups.push(() => backend.stop());
  const { sidecar: frontend } = await sidecarFor(client, 'frontend', '127.0.0.1:9', {
    outbound: {
      host: '127.0.0.1',
      port: 0,
      upstreams: [
        {
          name: 'backend',
          address: `127.0.0.1:${backend.inboundAddress.port}`,
          spiffeId: id('backend'),
          protocol: 'h2',
        },
      ],
    },
    drainMs: 500,
  });
  let stopped = false;
  cleanups.push(() => (stopped ? undefined : frontend.stop()));
  const stop = (): Promise<void> => {
    stopped = true;
    return frontend.stop();
  };
  return { backend, frontend, port: frontend.outboundAddress!.port, stop };
}

/**
 * Streams up to 8 MiB of body over HTTP/1.1 to the frontend's outbound port for service `backend` until flow control
 * stalls it (the far app reads nothing). Resolves with the request, still open, once stalled.
 */
async function stalledUpload(port: number, app: { started: Promise<void> }): Promise<ClientRequest> {
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/upload',
    headers: { host: 'backend', 'content-type': 'application/octet-stream' },
  });
  req.on('error', () => {});
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  const pump = () => {
    while (written < 8 * 1024 * 1024) {
      written += chunk.length;
      if (!req.write(chunk)) return void req.once('drain', pump);
    }
  };
  pump();
  await app.started;
  await sleep(500); // the windows fill up: the upload stalls
  return req;
}

const forwarded = (side: Sidecar) => side.stats().outboundRequests!.forwarded;

describe('sidecar h2 upstream: a stalled upload to an app that reads nothing', () => {
  it("ends the calling sidecar's stop() after the peer answered (504) and reset a stream whose caller left", async () => {
    const app = await deafApp();
    cleanups.push(() => closeServer(app.server));
    const { backend, frontend, stop } = await h2Pair(app.address, 1_000);
    const upload = await stalledUpload(frontend.outboundAddress!.port, app);
    upload.destroy(); // unseen by the frontend: a socket it no longer reads (backpressure) reports no close
    // The far app times out (1 s): the peer answers 504 and resets the stream, body bytes still queued at the frontend.
    await expect.poll(() => backend.stats().requests.appTimedOut, { timeout: BOUND_MS }).toBe(1);
    await expect.poll(() => forwarded(frontend), { timeout: BOUND_MS }).toBe(1);
    expect(
      await within(
        stop().then(() => 'stopped'),
        'frontend.stop()',
      ),
    ).toBe('stopped');
  }, 30_000);

  it('ends stop() after its drain while the stalled upload is still open', async () => {
    const app = await deafApp();
    cleanups.push(() => closeServer(app.server));
    const { port, stop } = await h2Pair(app.address);
    const upload = await stalledUpload(port, app);
    cleanups.push(() => void upload.destroy());
    expect(
      await within(
        stop().then(() => 'stopped'),
        'frontend.stop()',
      ),
    ).toBe('stopped');
  }, 30_000);
});
