// Request deadlines on the sidecar's HTTP/2 connections (src/mesh/http2_sessions.ts with
// src/mesh/http2_request_deadline.ts): a body not whole within requestTimeoutMs gets 408, or its stream reset once the
// answer started; a gRPC call's body is bounded by inactivity only, so a long stream of messages lives on.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { Http2Sessions } from '../../src/mesh/http2_sessions.js';

describe('HTTP/2 request deadlines of the sidecar listeners', () => {
  const TIMEOUT = 400;
  let sessions: Http2Sessions;
  let server: Server;
  let client: ClientHttp2Session;

  /** Reads the whole body and answers its size; `/early` answers at once and then waits for the body. */
  function handler(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/early') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started');
      req.on('end', () => res.end());
      req.resume();
      return;
    }
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ size }));
    });
  }

  beforeAll(async () => {
    sessions = new Http2Sessions({
      handler,
      maxConcurrentStreams: 10,
      idleTimeoutMs: 60_000,
      requestTimeoutMs: TIMEOUT,
      logger: new MemoryLogger(),
      listener: 'test',
    });
    server = createServer((socket) => sessions.accept(socket)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  });

  afterAll(async () => {
    client?.close();
    sessions?.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** Status, body and the stream's RST code once it closes. */
  function outcome(stream: ClientHttp2Stream) {
    return new Promise<{ status?: number; body: string; rst: number }>((resolve) => {
      const out: { status?: number; body: string } = { body: '' };
      stream.on('response', (h) => (out.status = Number(h[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (out.body += c));
      stream.on('error', () => {});
      stream.on('close', () => resolve({ ...out, rst: stream.rstCode ?? 0 }));
    });
  }

  it('answers 408 to a request whose body does not end within the timeout', async () => {
    const stream = client.request({ ':method': 'POST', ':path': '/', 'content-type': 'text/plain' });
    stream.write('part of a body');
    const started = Date.now();
    const got = await outcome(stream);
    expect(got.status).toBe(408);
    expect(JSON.parse(got.body)).toMatchObject({ code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    expect(JSON.parse(got.body).detail).toContain(`body not received within ${TIMEOUT} ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT - 50);
  });

  it('resets the stream when the answer had started before the body timed out', async () => {
    const stream = client.request({ ':method': 'POST', ':path': '/early', 'content-type': 'text/plain' });
    stream.write('x');
    const got = await outcome(stream);
    expect(got.status).toBe(200);
    expect(got.body).toBe('started');
    expect(got.rst).toBe(8); // CANCEL: the answer is cut, never one that looks complete
  });

  it("lets a gRPC call's body outlive the timeout while frames keep coming, and ends a silent one", async () => {
    const grpc = { ':method': 'POST', ':path': '/', 'content-type': 'application/grpc' };
    const flowing = client.request(grpc);
    const flowed = outcome(flowing);
    for (let i = 0; i < 6; i++) {
      flowing.write(Buffer.alloc(10));
      await sleep(TIMEOUT / 4);
    }
    flowing.end();
    const got = await flowed;
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toEqual({ size: 60 });
    const silent = client.request(grpc);
    silent.write(Buffer.alloc(5));
    const ended = await outcome(silent);
    expect(ended.status).toBe(408);
    expect(JSON.parse(ended.body).detail).toContain(`no frame for ${TIMEOUT} ms`);
  });

  it('leaves bodiless requests and bodies that end in time alone', async () => {
    const get = await outcome(client.request({ ':path': '/' }));
    expect(get.status).toBe(200);
    const post = client.request({ ':method': 'POST', ':path': '/early' });
    const answered = outcome(post);
    post.write('hello');
    await sleep(TIMEOUT / 2);
    post.end(); // in time: the answer that had started ends whole, no reset after the deadline
    await sleep(TIMEOUT);
    const got = await answered;
    expect(got.status).toBe(200);
    expect(got.rst).toBe(0);
  });
});
