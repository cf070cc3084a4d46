// A client that aborts mid-upload must never make the upstream see a complete-looking (truncated) body: over HTTP/1.1
// and HTTP/2, to HTTP/1.1 and h2c upstreams, with the WAF off, reading the body whole first, or streaming on past it.
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancel,
  CHUNK,
  chunkOf,
  ending,
  PROMPTLY,
  startUploadRecorder,
  within,
  type UploadRecorder,
} from '../support/upload_recorder.js';
import { startGateway, testCertificate, type RunningGateway } from './support.js';

const FORM = 'application/x-www-form-urlencoded';

/** The WAF settings of each kind of route. */
const WAF = {
  // no WAF: the body streams to the upstream as it comes
  off: { mode: 'off' },
  // the whole body is read and checked first (a form within maxBody), then sent on
  whole: { mode: 'block', maxBody: 1024 * 1024, maxArgLength: 1024 * 1024 },
  // the first maxBody bytes are read and checked (log only), then the rest streams on behind them
  beyond: { mode: 'log', maxBody: 1024, maxArgLength: 1024 * 1024 },
} as const;
type WafKind = keyof typeof WAF;

describe('aborted uploads through the gateway', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let upstreams: Record<'http1' | 'h2c', UploadRecorder>;
  let gw: RunningGateway;
  let n = 0;

  beforeAll(async () => {
    upstreams = { http1: await startUploadRecorder('http1'), h2c: await startUploadRecorder('h2c') };
    cleanups.push(
      () => upstreams.http1.close(),
      () => upstreams.h2c.close(),
    );
    const routes = [];
    for (const protocol of ['http1', 'h2c'] as const) {
      for (const kind of Object.keys(WAF) as WafKind[]) {
        routes.push({
          name: `${kind}-${protocol}`,
          pathPrefix: `/${kind}-${protocol}/`,
          upstream: protocol,
          waf: WAF[kind],
        });
      }
    }
    gw = await startGateway({
      http2: { enabled: true },
      upstreams: [
        { name: 'http1', hosts: [upstreams.http1.url], timeout: '60s' },
        { name: 'h2c', hosts: [upstreams.h2c.url], protocol: 'h2c', timeout: '60s' },
      ],
      routes,
    });
    cleanups.push(() => gw.close());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** Requests the gateway has finished on `route` (any status): the access line and the metrics come at the end. */
  const finished = async (route: string): Promise<number> => {
    const text = await gw.gateway.metrics.text();
    let total = 0;
    for (const m of text.matchAll(/^gatehouse_gateway_requests_total\{route="([^"]+)",status="\d+"\} (\d+)$/gm)) {
      if (m[1] === route) total += Number(m[2]);
    }
    return total;
  };

  /** The first chunk of an upload: a form field for the WAF's routes, raw bytes otherwise. */
  const firstChunk = (kind: WafKind) =>
    kind === 'off' ? chunkOf(CHUNK) : Buffer.concat([Buffer.from('a='), chunkOf(CHUNK - 2)]);
  const contentType = (kind: WafKind) => (kind === 'off' ? 'application/octet-stream' : FORM);

  /**
   * Sends the first chunk, aborts once the upstream has it (or, when the WAF holds the whole body, once the gateway
   * holds it), then checks what the upstream saw: its request cut, promptly, never a body that ended.
   */
  const abortMidBody = async (
    protocol: 'http1' | 'h2c',
    kind: WafKind,
    client: { send(path: string): void; abort(): void },
  ) => {
    const route = `${kind}-${protocol}`;
    const path = `/${route}/upload-${++n}`;
    const upstream = upstreams[protocol];
    const before = await finished(route);
    client.send(path);
    if (kind === 'whole')
      await sleep(100); // the WAF holds the body: nothing reaches the upstream yet
    else await within(PROMPTLY, 'the first chunk at the upstream', upstream.received(path, CHUNK));
    client.abort();
    await within(
      PROMPTLY,
      'the gateway done with the request',
      (async () => {
        while ((await finished(route)) === before) await sleep(20);
      })(),
    );
    const upload = upstream.uploads.find((u) => u.path === path);
    if (kind === 'whole') {
      // Never sent on: the body did not end.
      expect(upload?.events).toBeUndefined();
      return;
    }
    await within(PROMPTLY, `the upstream's request ${path} closed`, upload!.closed);
    expect(upload!.bytes).toBeGreaterThanOrEqual(CHUNK);
    expect(ending(upload!), upload!.events.join(', ')).toBe('cut');
  };

  const h1client = (kind: WafKind) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: gw.port,
      ca: testCertificate().certPem,
      servername: 'localhost',
      ALPNProtocols: ['http/1.1'],
    });
    socket.on('error', () => {});
    return {
      send: (path: string) => {
        const chunk = firstChunk(kind);
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType(kind)}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
      },
      abort: () => socket.destroy(),
    };
  };

  const h2client = (kind: WafKind) => {
    const session: ClientHttp2Session = h2connect(gw.url, { ca: testCertificate().certPem, servername: 'localhost' });
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    let stream: ReturnType<ClientHttp2Session['request']>;
    return {
      send: (path: string) => {
        stream = session.request({ ':method': 'POST', ':path': path, 'content-type': contentType(kind) });
        stream.on('error', () => {});
        stream.write(firstChunk(kind));
      },
      abort: () => cancel(stream),
    };
  };

  for (const protocol of ['http1', 'h2c'] as const) {
    for (const kind of Object.keys(WAF) as WafKind[]) {
      it(`HTTP/1.1 client whose connection drops mid-body, ${protocol} upstream, WAF ${kind}: the upstream sees it cut`, async () => {
        await abortMidBody(protocol, kind, h1client(kind));
      });
      it(`HTTP/2 client that cancels its stream mid-body, ${protocol} upstream, WAF ${kind}: the upstream sees it cut`, async () => {
        await abortMidBody(protocol, kind, h2client(kind));
      });
    }
  }

  it('a complete upload still arrives whole (the same bytes) on every route, over HTTP/2', async () => {
    const { createHash } = await import('node:crypto');
    for (const protocol of ['http1', 'h2c'] as const) {
      for (const kind of Object.keys(WAF) as WafKind[]) {
        const body = Buffer.concat([firstChunk(kind), chunkOf(CHUNK, 'y')]);
        const path = `/${kind}-${protocol}/whole-${++n}`;
        const session = h2connect(gw.url, { ca: testCertificate().certPem, servername: 'localhost' });
        const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': contentType(kind) });
        stream.write(body.subarray(0, CHUNK));
        stream.end(body.subarray(CHUNK));
        let status = 0;
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.resume();
        await new Promise((r) => stream.once('close', r));
        session.destroy();
        const upload = upstreams[protocol].uploads.find((u) => u.path === path)!;
        expect(status).toBe(200);
        expect({ bytes: upload.bytes, sha256: upload.sha256, ending: ending(upload) }).toEqual({
          bytes: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
          ending: 'whole',
        });
      }
    }
  });
});
