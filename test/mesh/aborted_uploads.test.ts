// A caller that aborts mid-upload must never make the next hop see a complete-looking (truncated) body: the app (or
// the peer's sidecar) sees its request aborted, at once, not a short body that ended, nor a request left to a timeout.
// A caller that leaves a bodiless request (a GET the next hop is still thinking about) ends it at the next hop at once.
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentitySource, Sidecar } from '../../src/mesh/index.js';
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
import { id, identityFor, meshCa, sidecarFor } from './helpers.js';

describe('aborted uploads through the sidecar', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let apps: Record<'http1' | 'h2c', UploadRecorder>;
  let backends: Record<'http1' | 'h2c', Sidecar>;
  let frontend: Sidecar;
  let caller: IdentitySource;
  let n = 0;
  const nextPath = (prefix = '/upload') => `${prefix}/${++n}`;

  beforeAll(async () => {
    const { client } = await meshCa();
    caller = await identityFor(client, id('frontend'));
    cleanups.push(() => caller.stop());
    apps = { http1: await startUploadRecorder('http1'), h2c: await startUploadRecorder('h2c') };
    cleanups.push(
      () => apps.http1.close(),
      () => apps.h2c.close(),
    );
    const backend = async (appProtocol: 'http1' | 'h2c') => {
      const { sidecar } = await sidecarFor(client, 'backend', apps[appProtocol].address, {
        inbound: {
          host: '127.0.0.1',
          port: 0,
          app: apps[appProtocol].address,
          http2: true,
          appProtocol,
          timeoutMs: 60_000,
        },
      });
      cleanups.push(() => sidecar.stop());
      return sidecar;
    };
    backends = { http1: await backend('http1'), h2c: await backend('h2c') };
    const address = `127.0.0.1:${backends.http1.inboundAddress.port}`;
    ({ sidecar: frontend } = await sidecarFor(client, 'frontend', '127.0.0.1:9', {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [
          { name: 'up-http1', address, spiffeId: id('backend'), protocol: 'http1', timeoutMs: 60_000 },
          { name: 'up-h2', address, spiffeId: id('backend'), protocol: 'h2', timeoutMs: 60_000 },
        ],
      },
    }));
    cleanups.push(() => frontend.stop());
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** An HTTP/2 connection to a sidecar's inbound listener with the caller's SVID. */
  const h2session = (sidecar: Sidecar): ClientHttp2Session => {
    const material = caller.current!;
    const session = h2connect(`https://127.0.0.1:${sidecar.inboundAddress.port}`, {
      cert: material.chainPem,
      key: material.keyPem,
      ca: caller.bundle.pem,
      checkServerIdentity: () => undefined, // a SPIFFE ID has no DNS name
    });
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    return session;
  };

  /** An HTTP/1.1 connection to a sidecar's inbound listener with the caller's SVID. */
  const h1inbound = (sidecar: Sidecar): Socket => {
    const material = caller.current!;
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: sidecar.inboundAddress.port,
      cert: material.chainPem,
      key: material.keyPem,
      ca: caller.bundle.pem,
      ALPNProtocols: ['http/1.1'],
      checkServerIdentity: () => undefined,
    });
    socket.on('error', () => {});
    return socket;
  };

  const chunkedHead = (path: string, host: string) =>
    `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const chunked = (bytes: Buffer) =>
    Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);

  /** The app's view of an upload the caller gave up on: cut, promptly, after part of the body. */
  const expectCut = async (app: UploadRecorder, path: string) => {
    const upload = app.uploads.find((u) => u.path === path)!;
    await within(PROMPTLY, `the app's request ${path} closed`, upload.closed);
    expect(upload.bytes).toBeGreaterThanOrEqual(CHUNK);
    expect(ending(upload), upload.events.join(', ')).toBe('cut');
  };

  for (const appProtocol of ['http1', 'h2c'] as const) {
    it(`inbound, HTTP/2 caller that cancels its stream mid-body: the ${appProtocol} app sees the request aborted`, async () => {
      const app = apps[appProtocol];
      const path = nextPath();
      const session = h2session(backends[appProtocol]);
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        ':authority': 'backend',
        'content-type': 'application/octet-stream',
      });
      stream.on('error', () => {});
      stream.write(chunkOf(CHUNK));
      await within(PROMPTLY, 'the first chunk at the app', app.received(path, CHUNK));
      cancel(stream);
      await expectCut(app, path);
      session.destroy();
    });

    it(`inbound, HTTP/1.1 caller whose connection drops mid-body: the ${appProtocol} app sees the request aborted`, async () => {
      const app = apps[appProtocol];
      const path = nextPath();
      const socket = h1inbound(backends[appProtocol]);
      socket.write(chunkedHead(path, 'backend'));
      socket.write(chunked(chunkOf(CHUNK)));
      await within(PROMPTLY, 'the first chunk at the app', app.received(path, CHUNK));
      socket.destroy();
      await expectCut(app, path);
    });

    it(`inbound, HTTP/2 caller that leaves once its body is in: the ${appProtocol} app's request ends at once`, async () => {
      const app = apps[appProtocol];
      const path = nextPath('/hold');
      const session = h2session(backends[appProtocol]);
      const stream = session.request({ ':method': 'POST', ':path': path, ':authority': 'backend' });
      stream.on('error', () => {});
      stream.end(chunkOf(CHUNK));
      const upload = await within(PROMPTLY, 'the body at the app', app.received(path, CHUNK));
      cancel(stream);
      await within(PROMPTLY, `the app's exchange ${path} over`, upload.released);
      session.destroy();
    });

    it(`inbound, HTTP/1.1 caller that leaves once its body is in: the ${appProtocol} app's request ends at once`, async () => {
      const app = apps[appProtocol];
      const path = nextPath('/hold');
      const socket = h1inbound(backends[appProtocol]);
      socket.write(chunkedHead(path, 'backend'));
      socket.write(Buffer.concat([chunked(chunkOf(CHUNK)), Buffer.from('0\r\n\r\n')]));
      const upload = await within(PROMPTLY, 'the body at the app', app.received(path, CHUNK));
      if (appProtocol === 'http1') {
        await within(PROMPTLY, 'the whole body at the app', upload.closed); // node:http closes a request once it ended
        expect(ending(upload)).toBe('whole');
      }
      socket.destroy();
      await within(PROMPTLY, `the app's exchange ${path} over`, upload.released);
    });
  }

  for (const upstream of ['up-http1', 'up-h2'] as const) {
    it(`outbound to ${upstream}: an app whose connection drops mid-body gets its request aborted at the peer's app`, async () => {
      const app = apps.http1;
      const path = nextPath();
      const socket = netConnect(frontend.outboundAddress!.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(chunkedHead(path, upstream));
      socket.write(chunked(chunkOf(CHUNK)));
      await within(PROMPTLY, 'the first chunk at the peer app', app.received(path, CHUNK));
      socket.destroy();
      await expectCut(app, path);
    });
  }

  for (const upstream of ['up-http1', 'up-h2'] as const) {
    it(`outbound to ${upstream}: an app that leaves once its body is in ends the request at the peer's app at once`, async () => {
      const app = apps.http1;
      const path = nextPath('/hold');
      const socket = netConnect(frontend.outboundAddress!.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(chunkedHead(path, upstream));
      socket.write(Buffer.concat([chunked(chunkOf(CHUNK)), Buffer.from('0\r\n\r\n')]));
      const upload = await within(PROMPTLY, 'the body at the peer app', app.received(path, CHUNK));
      await within(PROMPTLY, 'the whole body at the peer app', upload.closed);
      expect(ending(upload)).toBe('whole');
      socket.destroy();
      await within(PROMPTLY, `the peer app's exchange ${path} over`, upload.released);
    });
  }

  for (const appProtocol of ['http1', 'h2c'] as const) {
    it(`inbound, HTTP/1.1 caller that leaves a GET: the ${appProtocol} app's exchange ends at once`, async () => {
      const app = apps[appProtocol];
      const path = nextPath('/hold');
      const socket = h1inbound(backends[appProtocol]);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: backend\r\n\r\n`);
      const request = await within(PROMPTLY, 'the GET at the app', app.received(path, 0));
      socket.destroy();
      await within(PROMPTLY, `the app's exchange ${path} over`, request.released);
    });

    it(`inbound, HTTP/2 caller that cancels a GET: the ${appProtocol} app's exchange ends at once`, async () => {
      const app = apps[appProtocol];
      const path = nextPath('/hold');
      const session = h2session(backends[appProtocol]);
      const stream = session.request({ ':method': 'GET', ':path': path, ':authority': 'backend' });
      stream.on('error', () => {});
      const request = await within(PROMPTLY, 'the GET at the app', app.received(path, 0));
      cancel(stream);
      await within(PROMPTLY, `the app's exchange ${path} over`, request.released);
      session.destroy();
    });
  }

  for (const upstream of ['up-http1', 'up-h2'] as const) {
    it(`outbound to ${upstream}: an app that leaves a GET ends the request at the peer's app at once`, async () => {
      const app = apps.http1;
      const path = nextPath('/hold');
      const socket = netConnect(frontend.outboundAddress!.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${upstream}\r\n\r\n`);
      const request = await within(PROMPTLY, 'the GET at the peer app', app.received(path, 0));
      socket.destroy();
      await within(PROMPTLY, `the peer app's exchange ${path} over`, request.released);
    });
  }

  it('a complete upload still arrives whole (the same bytes) on every path', async () => {
    const body = Buffer.concat([chunkOf(CHUNK, 'a'), chunkOf(CHUNK, 'b')]);
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256').update(body).digest('hex');
    for (const appProtocol of ['http1', 'h2c'] as const) {
      const path = nextPath();
      const stream = h2session(backends[appProtocol]).request({
        ':method': 'POST',
        ':path': path,
        ':authority': 'backend',
      });
      stream.write(body.subarray(0, CHUNK));
      stream.end(body.subarray(CHUNK));
      stream.resume();
      await new Promise((r) => stream.once('close', r));
      const upload = apps[appProtocol].uploads.find((u) => u.path === path)!;
      await within(PROMPTLY, 'the request closed', upload.closed);
      expect({ bytes: upload.bytes, sha256: upload.sha256, ending: ending(upload) }).toEqual({
        bytes: body.length,
        sha256: expected,
        ending: 'whole',
      });
    }
  });
});
