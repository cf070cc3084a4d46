// gRPC-Web through the gateway (route `grpcWeb: true`): calls made by hand over HTTP/1.1 as a browser's fetch sends
// them, in binary and text modes, against a grpc-js upstream; and the base64 and trailer-frame helpers alone.
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64Decoder, GrpcWebAnswer, grpcWebCall } from '../../src/gateway/grpc_web.js';
import { client, frame, parse, startGrpcUpstream, unary } from './grpc_support.js';
import { startGateway, tableAuthenticator, type Json, type RunningGateway } from './support.js';

/** The frames of a gRPC-Web body: data messages (JSON) and the trailer frame's fields. */
function webFrames(body: Buffer): { messages: Json[]; trailers: Record<string, string> | undefined } {
  const messages: Json[] = [];
  let trailers: Record<string, string> | undefined;
  for (let i = 0; i < body.length;) {
    const flag = body[i]!;
    const len = body.readUInt32BE(i + 1);
    const payload = body.subarray(i + 5, i + 5 + len);
    i += 5 + len;
    if (flag & 0x80) {
      trailers = {};
      for (const line of payload.toString('latin1').split('\r\n').filter(Boolean)) {
        const at = line.indexOf(':');
        trailers[line.slice(0, at)] = line.slice(at + 1).trim();
      }
    } else messages.push(parse(payload));
  }
  return { messages, trailers };
}

/** One gRPC-Web call over HTTP/1.1 (what a browser's fetch sends); text mode base64-encodes both ways. */
async function webCall(
  gw: RunningGateway,
  path: string,
  body: Buffer | string,
  text = false,
  extra: Record<string, string> = {},
) {
  const res = await request(`${gw.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': text ? 'application/grpc-web-text' : 'application/grpc-web+proto',
      'x-grpc-web': '1',
      accept: text ? 'application/grpc-web-text' : 'application/grpc-web+proto',
      ...extra,
    },
    body: typeof body === 'string' ? body : text ? body.toString('base64') : body,
    dispatcher: gw.agent,
  });
  const raw = Buffer.from(await res.body.arrayBuffer());
  const bytes = text ? Buffer.from(raw.toString('latin1'), 'base64') : raw;
  return { status: res.statusCode, headers: res.headers, ...webFrames(bytes) };
}

/** The origin of the page the browser-side calls come from (the routes' CORS policy allows it). */
const PAGE = 'https://shop.example';

describe('gRPC-Web through the gateway (route grpcWeb: true, HTTP/1.1 clients)', () => {
  let grpcUp: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let gw: RunningGateway;

  beforeAll(async () => {
    grpcUp = await startGrpcUpstream();
    gw = await startGateway(
      {
        upstreams: [{ name: 'orders', hosts: [grpcUp.url], protocol: 'h2c' }],
        routes: [
          {
            name: 'private',
            pathPrefix: '/test.Private/',
            upstream: 'orders',
            auth: { kind: 'jwt' },
            grpcWeb: true,
            waf: { contentTypes: ['application/grpc-web+proto'] },
            cors: { allowOrigins: [PAGE] },
          },
          {
            name: 'orders',
            pathPrefix: '/test.Orders/',
            upstream: 'orders',
            grpcWeb: true,
            waf: { contentTypes: ['application/grpc-web+proto', 'application/grpc-web-text'] },
            cors: { allowOrigins: [PAGE], allowMethods: ['POST'] },
          },
        ],
      },
      { authenticator: tableAuthenticator({}) },
    );
  });
  afterAll(async () => {
    await gw?.close();
    grpcUp?.close();
  });

  it('translates a unary call: gRPC-Web media type, the trailers as a trailer frame in the body', async () => {
    const r = await webCall(gw, '/test.Orders/Echo', frame({ order: 7 }));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc-web+proto');
    expect(r.headers['x-upstream-header']).toBe('yes');
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0].got).toEqual({ order: 7 });
    expect(r.trailers).toMatchObject({ 'grpc-status': '0', 'x-upstream-trailer': 'also' });
  });

  it('translates text calls both ways, the request padded per message (= mid-stream) as grpc-web clients send it', async () => {
    const body = [1, 2, 3].map((n) => frame({ n, p: 'a' }).toString('base64')).join(''); // 20-byte frames
    expect(body.slice(0, -1)).toContain('='); // padding inside the stream, not only at its end
    const r = await webCall(gw, '/test.Orders/Sum', body, true);
    expect(r.headers['content-type']).toBe('application/grpc-web-text+proto');
    expect(r.messages).toEqual([{ total: 6, count: 3 }]);
    expect(r.trailers?.['grpc-status']).toBe('0');
    const listed = await webCall(gw, '/test.Orders/List', frame({ n: 25, size: 1_001 }), true);
    expect(listed.messages.map((m) => m.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(listed.trailers?.['grpc-status']).toBe('0');
  });

  it("carries an upstream's error (a Trailers-Only answer) in the trailer frame", async () => {
    const r = await webCall(gw, '/test.Orders/Fail', frame({}));
    expect(r.status).toBe(200);
    expect(r.messages).toEqual([]);
    expect(r.trailers).toEqual({
      'grpc-status': String(grpc.status.NOT_FOUND),
      'grpc-message': expect.stringMatching(/%C3%BCn%C3%AFcode/),
      'x-reason': 'gone',
    });
    expect(decodeURIComponent(r.trailers!['grpc-message']!)).toBe('no such order: 42 (ünïcode)');
    expect(r.headers.date).toMatch(/GMT$/); // an HTTP field of the Trailers-Only block stays a response field
  });

  it("answers the gateway's refusals and a malformed text body in gRPC-Web's terms", async () => {
    const denied = await webCall(gw, '/test.Private/Echo', frame({}));
    expect(denied.status).toBe(200);
    expect(denied.headers['content-type']).toBe('application/grpc-web+proto');
    expect(denied.headers['grpc-status']).toBe(String(grpc.status.UNAUTHENTICATED));
    const bad = await webCall(gw, '/test.Orders/Echo', 'AAAAAAJ7fQ', true); // 10 characters: not whole quanta
    expect(bad.status).toBe(200);
    expect(bad.headers['grpc-status']).toBe(String(grpc.status.INTERNAL));
    expect(decodeURIComponent(String(bad.headers['grpc-message']))).toMatch(/^ERR_HTTP_BAD_REQUEST: /);
    for (const junk of ['!!!!', 'AAAA!!!!', 'QQ=A']) {
      const refused = await webCall(gw, '/test.Orders/Echo', junk, true); // whole quanta, not base64
      expect(refused.headers['grpc-status']).toBe(String(grpc.status.INTERNAL));
    }
    // the client's fault: the next call goes through (no breaker failure, no ejected host)
    expect((await webCall(gw, '/test.Orders/Echo', frame({ again: true }))).trailers?.['grpc-status']).toBe('0');
  });

  it('lets a page of an allowed origin call: the preflight answered, grpc-status readable, refusals too', async () => {
    const pre = await request(`${gw.url}/test.Orders/Echo`, {
      method: 'OPTIONS',
      headers: {
        origin: PAGE,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent,grpc-timeout',
      },
      dispatcher: gw.agent,
    });
    await pre.body.dump();
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(PAGE);
    expect(pre.headers['access-control-allow-methods']).toBe('POST');
    const r = await webCall(gw, '/test.Orders/Echo', frame({ order: 8 }), false, { origin: PAGE });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(PAGE);
    expect(String(r.headers['access-control-expose-headers'])).toContain('grpc-status, grpc-message');
    expect(r.trailers?.['grpc-status']).toBe('0');
    expect(r.messages).toMatchObject([{ got: { order: 8 } }]);
    // The gateway's own refusal of an unauthenticated call, in gRPC-Web's terms, is readable by the page too.
    const denied = await webCall(gw, '/test.Private/Echo', frame({}), false, { origin: PAGE });
    expect(denied.headers['grpc-status']).toBe('16');
    expect(denied.headers['access-control-allow-origin']).toBe(PAGE);
  });

  it('passes other requests on a grpcWeb route unchanged (a plain gRPC client)', async () => {
    const h2gw = await startGateway(
      {
        upstreams: [{ name: 'orders', hosts: [grpcUp.url], protocol: 'h2c' }],
        routes: [{ name: 'orders', pathPrefix: '/', upstream: 'orders', grpcWeb: true, waf: { mode: 'off' } }],
        http2: { enabled: true },
      },
      {},
    );
    const c = client(h2gw);
    try {
      const r = await unary(c, 'echo', { plain: true });
      expect(r.value.got).toEqual({ plain: true });
      expect(r.status?.metadata.get('x-upstream-trailer')).toEqual(['also']);
    } finally {
      c.close();
      await h2gw.close();
    }
  });
});

describe('gRPC-Web helpers', () => {
  it('decodes grpc-web-text bodies split anywhere, padded per message, with whitespace', async () => {
    const messages = [Buffer.from('a'), Buffer.from('bcde'), Buffer.from('fghij')];
    const text = messages.map((m) => m.toString('base64')).join('\n'); // YQ==\nYmNkZQ==\nZmdoaWo=
    for (const size of [1, 3, 5, text.length]) {
      const decoder = base64Decoder();
      const out: Buffer[] = [];
      decoder.on('data', (b: Buffer) => out.push(b));
      for (let i = 0; i < text.length; i += size) decoder.write(Buffer.from(text.slice(i, i + size)));
      decoder.end();
      await once(decoder, 'end');
      expect(Buffer.concat(out).toString()).toBe('abcdefghij');
    }
    const broken = base64Decoder();
    broken.end(Buffer.from('YWJj='));
    broken.resume();
    const [err] = (await once(broken, 'error')) as [Error & { code?: string }];
    expect(err.code).toBe('ERR_HTTP_BAD_REQUEST');
  });

  it('encodes a gRPC-Web text answer as one base64 stream whatever the chunking', () => {
    const call = grpcWebCall({ 'content-type': 'application/grpc-web-text' })!;
    expect(call).toEqual({
      text: true,
      answerType: 'application/grpc-web-text+proto',
      upstreamType: 'application/grpc',
    });
    expect(grpcWebCall({ 'content-type': 'application/grpc-web+json' })?.upstreamType).toBe('application/grpc+json');
    expect(grpcWebCall({ 'content-type': 'application/grpc' })).toBeUndefined();
    const web = new GrpcWebAnswer(call);
    const fields: Record<string, string> = { 'content-type': 'application/grpc', 'content-length': '12' };
    web.head(fields);
    expect(fields).toEqual({ 'content-type': 'application/grpc-web-text+proto' });
    const body = Buffer.from('0123456789abcdefg');
    let text = '';
    for (const byte of body) text += web.data(Buffer.from([byte])).toString('latin1');
    text += web.end({ 'grpc-status': '0' })!.toString('latin1');
    const decoded = Buffer.from(text, 'base64');
    expect(decoded.subarray(0, body.length).toString()).toBe('0123456789abcdefg');
    expect(decoded[body.length]).toBe(0x80);
    expect(decoded.subarray(body.length + 5).toString()).toBe('grpc-status: 0\r\n');
    const html = new GrpcWebAnswer(call); // not a gRPC answer: untouched
    const page: Record<string, string> = { 'content-type': 'text/html' };
    html.head(page);
    expect(page['content-type']).toBe('text/html');
    expect(html.data(Buffer.from('<p>'))).toEqual(Buffer.from('<p>'));
    expect(html.end({})).toBeUndefined();
  });
});
