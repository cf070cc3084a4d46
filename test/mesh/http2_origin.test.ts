// The HTTP/2 upstream exchange (src/mesh/http2_origin.ts) driven directly, at its edges: an answer that ends before the request
// body, a paused answer and the body timeout, timer listeners over many requests, the connect timeout, the idle timer.
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import {
  constants,
  createSecureServer as createSecureH2Server,
  createServer as createH2cServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { upstreamFailureKind } from '../../src/core/index.js';
import { Http2Origin } from '../../src/mesh/http2_origin.js';
import { RefusedStreamError } from '../../src/mesh/retry_policy.js';
import { frame, startGrpcUpstream } from '../gateway/grpc_support.js';
import { testCertificate } from '../gateway/support.js';

describe('HTTP/2 upstream exchanges at their edges (Http2Origin driven directly)', () => {
  type Outcome = { status?: number; chunks: number; end?: IncomingHttpHeaders; error?: Error & { code?: string } };
  /** A dispatch handler recording what happened; `onData` may pause the exchange. */
  function recorder(onData?: (controller: Dispatcher.DispatchController) => void) {
    const out: Outcome = { chunks: 0 };
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const handler: Dispatcher.DispatchHandler = {
      onResponseStart: (_c, status) => (out.status = status),
      onResponseData: (c) => {
        out.chunks += 1;
        onData?.(c);
      },
      onResponseEnd: (_c, trailers) => ((out.end = trailers), settle()),
      onResponseError: (_c, err) => ((out.error = err), settle()),
    };
    return { out, done, handler };
  }
  async function h2cServer(onStream: (stream: ServerHttp2Stream) => void) {
    const server = createH2cServer();
    const sessions: ServerHttp2Session[] = [];
    server.on('session', (sess) => sessions.push(sess));
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      onStream(stream);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return { url, sessions, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('closes a stream whose answer ended before the request body did, and stops sending that body', async () => {
    const up = await startGrpcUpstream();
    const origin = new Http2Origin(up.url, { connectTimeout: 2_000, idleTimeout: 300 });
    try {
      const body = new PassThrough();
      body.write(frame({ first: true })); // the caller's stream stays open
      const r = recorder();
      origin.dispatch(
        {
          path: '/test.Orders/Early',
          method: 'POST',
          headers: { 'content-type': 'application/grpc' },
          body,
          bodyTimeout: 60_000,
        },
        r.handler,
      );
      await r.done;
      expect(r.out.error).toBeUndefined();
      expect(r.out.end).toMatchObject({ 'grpc-status': String(grpc.status.INVALID_ARGUMENT) });
      // the exchange is over: its stream is closed rather than held until the caller's body ends
      await expect.poll(() => origin.openStreams, { timeout: 3_000 }).toBe(0);
      expect(body.readableFlowing).toBe(false); // no longer piped upstream
    } finally {
      await origin.close();
      up.close();
    }
  });

  it('fails an answer the server reset with NO_ERROR short of its Content-Length (node reads it as ended)', async () => {
    const server = await h2cServer((stream) => {
      stream.respond({ ':status': 200, 'content-length': '100' });
      // destroy() without an error: RST_STREAM NO_ERROR, no END_STREAM.
      stream.write(Buffer.alloc(10, 'x'), () => setTimeout(() => stream.destroy(), 10));
    });
    const whole = await h2cServer((stream) => {
      stream.respond({ ':status': 200, 'content-length': '10' });
      stream.end(Buffer.alloc(10, 'y'));
    });
    const cut = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 300 });
    const ok = new Http2Origin(whole.url, { connectTimeout: 2_000, idleTimeout: 300 });
    try {
      const r = recorder();
      cut.dispatch({ path: '/short', method: 'GET', headers: {}, body: null }, r.handler);
      await r.done;
      expect(r.out.status).toBe(200);
      expect(r.out.end).toBeUndefined();
      expect(r.out.error?.message).toBe('upstream reset the stream after 10 of the 100 bytes of its answer');
      // The same length arriving whole ends as usual; a HEAD's declared length has no body to match.
      for (const method of ['GET', 'HEAD'] as const) {
        const w = recorder();
        ok.dispatch({ path: '/whole', method, headers: {}, body: null }, w.handler);
        await w.done;
        expect(w.out.error).toBeUndefined();
        expect(w.out.end).toBeDefined();
      }
    } finally {
      await cut.close();
      await ok.close();
      for (const sess of [...server.sessions, ...whole.sessions]) sess.destroy();
      await server.close();
      await whole.close();
    }
  });

  it('ends a stream the server reset with NO_ERROR while request body bytes still waited on flow control', async () => {
    // The server answers without reading the body and resets the stream with NO_ERROR before its END_STREAM went out
    // (the sidecar's inbound did so for an early answer): node then never ends (no 'close') a client stream whose
    // written body is still queued, which held the stream, its connection and close() forever.
    const server = await h2cServer((stream) => {
      setTimeout(() => {
        // as node's compatibility response answers (trailers awaited), reset on 'finish' as http1View did
        stream.respond({ ':status': 413 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({}));
        stream.once('finish', () => stream.close(constants.NGHTTP2_NO_ERROR));
        stream.end('{"code":"too large"}');
      }, 100);
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 5_000 });
    try {
      const body = new PassThrough();
      body.write(Buffer.alloc(1024 * 1024)); // far beyond the stream's 64 KiB window; the body never ends
      const r = recorder();
      origin.dispatch({ path: '/upload', method: 'POST', headers: {}, body, bodyTimeout: 60_000 }, r.handler);
      await r.done;
      expect(r.out.status).toBe(413);
      await expect.poll(() => origin.openStreams, { timeout: 3_000 }).toBe(0);
      const closed = await Promise.race([origin.close().then(() => 'closed'), sleep(10_000).then(() => 'pending')]);
      expect(closed).toBe('closed'); // a liveness bound, not a speed one
    } finally {
      for (const session of server.sessions) session.destroy();
      await server.close();
    }
  });

  it('destroy() ends the connections and their open streams now (the handlers told), and refuses later dispatches', async () => {
    const server = await h2cServer(() => {}); // never answers
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 5_000 });
    try {
      const r = recorder();
      origin.dispatch({ path: '/hang', method: 'GET', headers: {}, body: null, headersTimeout: 60_000 }, r.handler);
      await expect.poll(() => server.sessions.length, { timeout: 3_000 }).toBe(1);
      origin.destroy();
      await r.done;
      expect(r.out.error).toBeDefined();
      expect(origin.openStreams).toBe(0);
      const later = recorder();
      expect(origin.dispatch({ path: '/', method: 'GET', headers: {}, body: null }, later.handler)).toBe(false);
      await later.done;
      expect(later.out.error?.code).toBe('UND_ERR_CLOSED');
    } finally {
      for (const session of server.sessions) session.destroy();
      await server.close();
    }
  });

  it('closes an idle connection again after a stream that outlived the first idle period', async () => {
    const sessions: ServerHttp2Session[] = [];
    const server = await h2cServer((stream) => {
      setTimeout(() => {
        if (!stream.destroyed) stream.respond({ ':status': 200 }, { endStream: true });
      }, 500); // longer than the idle timeout: it fires while the stream is open
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 200 });
    try {
      const r = recorder();
      origin.dispatch({ path: '/slow', method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 }, r.handler);
      await r.done;
      expect(r.out.status).toBe(200);
      sessions.push(...server.sessions);
      await expect.poll(() => sessions[0]?.closed || sessions[0]?.destroyed, { timeout: 3_000 }).toBe(true);
    } finally {
      await origin.close();
      await server.close();
    }
  });

  it('keeps no body timeout while the gateway has paused the answer (its own client reads slowly)', async () => {
    const server = await h2cServer((stream) => {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(512 * 1024, 1)); // beyond one flow-control window: the upstream waits on us
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 60_000 });
    try {
      let paused = false;
      const r = recorder((c) => {
        if (paused) return;
        paused = true;
        c.pause();
        setTimeout(() => c.resume(), 800); // four body timeouts long
      });
      origin.dispatch({ path: '/big', method: 'GET', headers: {}, body: null, bodyTimeout: 200 }, r.handler);
      await r.done;
      expect(r.out.error).toBeUndefined();
      expect(r.out.status).toBe(200);
    } finally {
      await origin.close();
      await server.close();
    }
  });

  it('adds no timer listeners per request or per pause (no MaxListenersExceededWarning over many)', async () => {
    const server = await h2cServer((stream) => {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(256 * 1024, 1)); // several flow-control windows: many pauses when read slowly
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 60_000 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 15; i++) {
        const r = recorder((c) => {
          c.pause(); // every chunk: pause, then resume on the next tick
          setImmediate(() => c.resume());
        });
        origin.dispatch({ path: `/n/${i}`, method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 }, r.handler);
        await r.done;
        expect(r.out.error).toBeUndefined();
        expect(r.out.chunks).toBeGreaterThan(11);
      }
      await sleep(20); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await origin.close();
      await server.close();
    }
  });

  it('speaks HTTP/2 over TLS to an https:// origin: ALPN h2, :scheme https, the certificate checked', async () => {
    const { certPem, keyPem } = testCertificate();
    const seen: Array<{ scheme: unknown; alpn: unknown }> = [];
    const tls = createSecureH2Server({ cert: certPem, key: keyPem, allowHTTP1: false });
    tls.on('stream', (stream, headers) => {
      seen.push({
        scheme: headers[':scheme'],
        alpn: (stream.session?.socket as { alpnProtocol?: string }).alpnProtocol,
      });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end('ok');
    });
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    const url = `https://127.0.0.1:${(tls.address() as { port: number }).port}`;
    const trusted = new Http2Origin(url, { connectTimeout: 2_000, idleTimeout: 60_000, ca: certPem });
    const untrusted = new Http2Origin(url, { connectTimeout: 2_000, idleTimeout: 60_000 }); // node's default store
    try {
      const ok = recorder();
      trusted.dispatch({ path: '/p.S/M', method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 }, ok.handler);
      await ok.done;
      expect([ok.out.status, ok.out.end?.['grpc-status']]).toEqual([200, '0']);
      expect(seen).toEqual([{ scheme: 'https', alpn: 'h2' }]);
      const refused = recorder();
      untrusted.dispatch(
        { path: '/p.S/M', method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 },
        refused.handler,
      );
      await refused.done;
      expect(refused.out.error?.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
      expect(upstreamFailureKind(refused.out.error)).toBe('failed'); // a 502, and a breaker failure
      expect(seen).toHaveLength(1); // nothing reached the server
    } finally {
      await trusted.close();
      await untrusted.close();
      tls.close();
    }
  });

  it('refuses a TLS server that does not negotiate ALPN h2, with the reason (a 502 kind)', async () => {
    const { certPem, keyPem } = testCertificate();
    // A TLS server that ignores ALPN (node's https server would refuse the offer with an alert instead)
    const h1 = createTlsServer({ cert: certPem, key: keyPem }, (socket) => {
      socket.on('error', () => {});
    });
    h1.listen(0, '127.0.0.1');
    await once(h1, 'listening');
    const origin = new Http2Origin(`https://127.0.0.1:${(h1.address() as { port: number }).port}`, {
      connectTimeout: 5_000,
      idleTimeout: 60_000,
      ca: certPem,
    });
    try {
      const r = recorder();
      origin.dispatch({ path: '/x', method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 }, r.handler);
      await r.done;
      expect(r.out.error?.message).toMatch(/did not negotiate HTTP\/2 over TLS \(ALPN none\)/);
      expect(upstreamFailureKind(r.out.error)).toBe('failed');
    } finally {
      await origin.close();
      h1.close();
    }
  });

  it('times out connecting (a 504 kind) to a port where something that is not HTTP/2 listens', async () => {
    const accepted: Socket[] = [];
    const silent = createNetServer((socket) => {
      socket.on('error', () => {});
      accepted.push(socket); // accepts, never answers
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const origin = new Http2Origin(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, {
      connectTimeout: 200,
      idleTimeout: 60_000,
    });
    try {
      const r = recorder();
      origin.dispatch({ path: '/x', method: 'GET', headers: {}, body: null, bodyTimeout: 30_000 }, r.handler);
      await r.done;
      expect(r.out.error?.code).toBe('UND_ERR_CONNECT_TIMEOUT');
      expect(upstreamFailureKind(r.out.error)).toBe('timeout');
    } finally {
      await origin.close();
      for (const socket of accepted) socket.destroy();
      silent.close();
    }
  });
  it('reports a refused stream (RST_STREAM REFUSED_STREAM, or above a GOAWAY) as RefusedStreamError, other resets not', async () => {
    let n = 0;
    const server = await h2cServer((stream) => {
      n += 1;
      if (n === 1) return stream.close(constants.NGHTTP2_REFUSED_STREAM);
      if (n === 2) return stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      if (n === 3) {
        stream.respond({ ':status': 200 });
        return stream.end('ok');
      }
      // The 4th stream: the server goes away with the 3rd as its last: node's client refuses the 4th itself.
      stream.session?.goaway(constants.NGHTTP2_NO_ERROR, (stream.id ?? 2) - 2);
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 5_000 });
    const send = async () => {
      const r = recorder();
      origin.dispatch({ path: '/', method: 'GET', headers: {}, body: null }, r.handler);
      await r.done;
      return r.out;
    };
    try {
      const refused = await send();
      expect(refused.error).toBeInstanceOf(RefusedStreamError);
      expect(refused.error?.code).toBe('ERR_HTTP2_REFUSED_STREAM');
      expect(refused.status).toBeUndefined();
      const reset = await send();
      expect(reset.error).toBeDefined();
      expect(reset.error).not.toBeInstanceOf(RefusedStreamError);
      expect(reset.error?.code).toBe('ERR_HTTP2_STREAM_ERROR');
      expect((await send()).status).toBe(200);
      const goneAway = await send();
      expect(goneAway.error).toBeInstanceOf(RefusedStreamError);
      expect(n).toBe(4);
    } finally {
      await origin.close(); // resolves although node emits no 'close' for the connection the server went away from
      for (const session of server.sessions) session.destroy();
      await server.close();
    }
  });
  it('does not read a processed stream as refused when a GOAWAY carries REFUSED_STREAM as its error code', async () => {
    const server = await h2cServer((stream) => {
      // The server took the stream (its id is the GOAWAY's last), then goes away with the code REFUSED_STREAM: node
      // ends the open stream with that code, yet the server may have acted on it.
      stream.session?.goaway(constants.NGHTTP2_REFUSED_STREAM, stream.id ?? 1);
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 5_000 });
    try {
      const r = recorder();
      origin.dispatch({ path: '/', method: 'POST', headers: {}, body: null }, r.handler);
      await r.done;
      expect(r.out.error).toBeDefined();
      expect(r.out.error).not.toBeInstanceOf(RefusedStreamError);
    } finally {
      await origin.close();
      for (const session of server.sessions) session.destroy();
      await server.close();
    }
  });

  it('reports a stream that never left (its connection retired while connecting) as refused: it may go again', async () => {
    let streams = 0;
    const server = await h2cServer((stream) => {
      streams += 1;
      stream.respond({ ':status': 200 });
      stream.end();
    });
    const origin = new Http2Origin(server.url, { connectTimeout: 2_000, idleTimeout: 5_000 });
    try {
      const r = recorder();
      origin.dispatch({ path: '/', method: 'POST', headers: {}, body: null }, r.handler);
      origin.retire(); // the SVID rotated before the connection was up
      await r.done;
      expect(r.out.error).toBeInstanceOf(RefusedStreamError);
      expect(streams).toBe(0);
    } finally {
      await origin.close();
      for (const session of server.sessions) session.destroy();
      await server.close();
    }
  });
});
