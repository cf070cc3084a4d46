// Retries of requests to an HTTP/2 peer (`outbound.upstreams[].protocol: h2`): the outbound sidecar against a peer
// speaking HTTP/2 over mTLS (node:http2 with the peer's SVID) that refuses, resets or answers each stream as the test
// path says. A refused stream (RST_STREAM REFUSED_STREAM, or above a GOAWAY's last stream) was not processed: any
// method without a body goes again; a reset goes again for idempotent methods only; a streamed body never does.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { constants, createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentitySource, Sidecar } from '../../src/mesh/index.js';
import { id, identityFor, meshCa, sidecarFor } from './helpers.js';

describe('sidecar retries to an HTTP/2 peer (refused streams, resets, statuses, connect failures)', () => {
  let peer: Http2SecureServer;
  let peerIdentity: IdentitySource;
  let frontend: Sidecar;
  /** Streams the peer received, by the test's tag (the path's last segment). */
  const seen = new Map<string, number>();

  /** What the peer does with a stream: the path is `/<behaviour>/<tag>`; `-once` behaviours answer 200 the 2nd time. */
  function serve(stream: ServerHttp2Stream, path: string): void {
    const [, behaviour = '', tag = ''] = path.split('/');
    const n = (seen.get(tag) ?? 0) + 1;
    seen.set(tag, n);
    const first = n === 1;
    if (behaviour === 'refuse-always' || (behaviour === 'refuse-once' && first)) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (behaviour === 'reset-once' && first) {
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (behaviour === 'goaway-once' && first) {
      // This connection's last processed stream is the one before: this stream is refused by the client's own
      // HTTP/2 stack, and the connection is done for new streams.
      stream.session?.goaway(constants.NGHTTP2_NO_ERROR, Math.max(0, (stream.id ?? 1) - 2));
      return;
    }
    if (behaviour === '503-once' && first) {
      stream.respond({ ':status': 503, 'content-type': 'text/plain' });
      stream.end('busy');
      return;
    }
    // The answer once the whole body is in, with its size (a replayed body must arrive whole).
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ tag, attempt: n, ...(bytes > 0 ? { bytes } : {}) }));
    });
  }

  async function closedPort(): Promise<number> {
    const s = createNetServer().listen(0, '127.0.0.1');
    await once(s, 'listening');
    const { port } = s.address() as { port: number };
    await new Promise((resolve) => s.close(resolve));
    return port;
  }

  beforeAll(async () => {
    const { client } = await meshCa();
    peerIdentity = await identityFor(client, id('backend'));
    const svid = peerIdentity.current!;
    peer = createSecureServer({
      cert: svid.chainPem,
      key: svid.keyPem,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      requestCert: true,
      rejectUnauthorized: false, // the peer here only plays its part; the frontend checks the peer's identity
    });
    peer.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      serve(stream, String(headers[':path']));
    });
    peer.listen(0, '127.0.0.1');
    await once(peer, 'listening');
    const address = `127.0.0.1:${(peer.address() as { port: number }).port}`;
    const h2 = { address, spiffeId: id('backend'), protocol: 'h2' as const };
    ({ sidecar: frontend } = await sidecarFor(client, 'frontend', '127.0.0.1:9', {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [
          { name: 'peer', ...h2 },
          {
            name: 'peer503',
            ...h2,
            retries: { attempts: 2, on: ['connect-failure', 'refused-stream', 'reset', 503], budget: 0.2 },
          },
          { name: 'strict', ...h2, retries: { attempts: 2, on: ['connect-failure', 'reset'], budget: 0.2 } },
          { name: 'down', address: `127.0.0.1:${await closedPort()}`, spiffeId: id('backend'), protocol: 'h2' },
        ],
      },
      breaker: { consecutiveFailures: 1_000, openDurationMs: 1_000 },
    }));
  });

  afterAll(async () => {
    await frontend?.stop();
    await new Promise<void>((resolve) => {
      peer?.close(() => resolve());
      setTimeout(resolve, 2_000).unref();
    });
    peerIdentity?.stop();
  });

  const call = async (service: string, path: string, init: { method?: string; body?: string } = {}) => {
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}${path}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers: {
        host: service,
        ...(init.body === undefined && init.method === 'POST' ? { 'content-length': '0' } : {}),
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };
  const retries = () => ({ ...frontend.stats().outboundRequests!.retries });

  it('sends a GET whose stream the peer refused again: the app gets the second answer', async () => {
    const before = retries();
    const got = await call('peer', '/refuse-once/get');
    expect(got.status).toBe(200);
    expect(JSON.parse(got.text)).toEqual({ tag: 'get', attempt: 2 });
    expect(retries()['refused-stream'] - before['refused-stream']).toBe(1);
  });

  it('sends a refused bodiless POST again too (a refused stream was not processed, whatever its method)', async () => {
    const got = await call('peer', '/refuse-once/post0', { method: 'POST' });
    expect(got.status).toBe(200);
    expect(seen.get('post0')).toBe(2);
  });

  it('replays a small body that had ended (a gRPC unary call, a small POST): the second attempt gets it whole', async () => {
    const got = await call('peer', '/refuse-once/postbody', { method: 'POST', body: 'x'.repeat(5_000) });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.text)).toEqual({ tag: 'postbody', attempt: 2, bytes: 5_000 });
  });

  it('never replays a body over 64 KiB; waits for the rest of a small one still streaming when the attempt failed', async () => {
    const big = await call('peer', '/refuse-once/bigbody', { method: 'POST', body: 'x'.repeat(70_000) });
    expect(big.status).toBe(502);
    expect(JSON.parse(big.text)).toMatchObject({ code: 'ERR_MESH_UPSTREAM_FAILED', upstream: 'peer' });
    expect(seen.get('bigbody')).toBe(1);
    // A body of a declared length whose end comes after the refusal: the retry waits for it, then sends it whole.
    const slow = new PassThrough();
    slow.write('first part');
    setTimeout(() => slow.end('last part'), 500).unref();
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/refuse-once/slowbody`, {
      method: 'POST',
      headers: { host: 'peer', 'content-length': '19' },
      body: slow,
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ tag: 'slowbody', attempt: 2, bytes: 19 });
    // The same without a declared length (a stream, which may wait on the answer to go on): not waited for.
    const streamed = new PassThrough();
    streamed.write('first part');
    const cut = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/refuse-once/streamed`, {
      method: 'POST',
      headers: { host: 'peer' },
      body: streamed,
    }).catch((err: Error) => ({ statusCode: 0, body: { text: async () => err.message } }));
    expect(cut.statusCode).toBe(502);
    await cut.body.text();
    streamed.end();
    expect(seen.get('streamed')).toBe(1);
    // One over 64 KiB still streaming when refused: never whole, so not sent again.
    const slowBig = new PassThrough();
    slowBig.write('x'.repeat(1_000));
    setTimeout(() => slowBig.end('y'.repeat(70_000)), 300).unref();
    const tooBig = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/refuse-once/slowbig`, {
      method: 'POST',
      headers: { host: 'peer', 'content-length': '71000' },
      body: slowBig,
    }).catch((err: Error) => ({ statusCode: 0, body: { text: async () => err.message } }));
    expect(tooBig.statusCode).toBe(502);
    await tooBig.body.text();
    expect(seen.get('slowbig')).toBe(1);
  });

  it('sends a GET again after a stream reset, not a POST (the peer may have acted on it)', async () => {
    const before = retries();
    expect((await call('peer', '/reset-once/rget')).status).toBe(200);
    expect(seen.get('rget')).toBe(2);
    expect(retries().reset - before.reset).toBe(1);
    expect((await call('peer', '/reset-once/rpost', { method: 'POST' })).status).toBe(502);
    expect(seen.get('rpost')).toBe(1);
  });

  it('sends a stream above the GOAWAY of a peer that went away again, on a new connection', async () => {
    // A first call makes sure the connection has an earlier stream for the GOAWAY to name as its last.
    expect((await call('peer', '/ok/warm')).status).toBe(200);
    const before = retries();
    const got = await call('peer', '/goaway-once/ga');
    expect(got.status).toBe(200);
    expect(seen.get('ga')).toBe(2);
    expect(retries()['refused-stream'] - before['refused-stream']).toBe(1);
    expect((await call('peer', '/ok/after')).status).toBe(200);
  });

  it('gives up after the configured attempts: a peer refusing every stream costs three and gets the app a 502', async () => {
    const got = await call('peer', '/refuse-always/all');
    expect(got.status).toBe(502);
    expect(seen.get('all')).toBe(3);
  });

  it('drops a listed status unread and asks again; relays it where it is not listed', async () => {
    const before = retries();
    const got = await call('peer503', '/503-once/s1');
    expect(got.status).toBe(200);
    expect(JSON.parse(got.text)).toEqual({ tag: 's1', attempt: 2 });
    expect(retries().status - before.status).toBe(1);
    const relayed = await call('peer', '/503-once/s2');
    expect(relayed).toEqual({ status: 503, text: 'busy' });
  });

  it('treats a refused stream as a reset when `on` leaves refused-stream out: idempotent methods only', async () => {
    expect((await call('strict', '/refuse-once/strict-get')).status).toBe(200);
    expect(seen.get('strict-get')).toBe(2);
    expect((await call('strict', '/refuse-once/strict-post', { method: 'POST' })).status).toBe(502);
    expect(seen.get('strict-post')).toBe(1);
  });

  it('retries a peer whose sidecar cannot be reached (connect failure), then answers 502', async () => {
    const before = retries();
    const got = await call('down', '/ok/down');
    expect(got.status).toBe(502);
    expect(retries()['connect-failure'] - before['connect-failure']).toBe(2);
  });
});
