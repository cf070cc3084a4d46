// Shared by the gRPC test files: a gRPC service without a .proto (raw bytes), a grpc-js upstream recording what it
// saw, a bare node:http2 h2c upstream, a grpc-js client of the gateway, and small framing helpers.
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { createServer as createH2cServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { testCertificate, type Json, type RunningGateway } from './support.js';

export const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
/** A service without a .proto: messages are raw bytes (JSON text here). */
export const service = {
  echo: { path: '/test.Orders/Echo', requestStream: false, responseStream: false, ...raw },
  list: { path: '/test.Orders/List', requestStream: false, responseStream: true, ...raw },
  sum: { path: '/test.Orders/Sum', requestStream: true, responseStream: false, ...raw },
  early: { path: '/test.Orders/Early', requestStream: true, responseStream: false, ...raw },
  chat: { path: '/test.Orders/Chat', requestStream: true, responseStream: true, ...raw },
  fail: { path: '/test.Orders/Fail', requestStream: false, responseStream: false, ...raw },
  deny: { path: '/test.Orders/Deny', requestStream: false, responseStream: false, ...raw },
  down: { path: '/test.Orders/Down', requestStream: false, responseStream: false, ...raw },
  hang: { path: '/test.Orders/Hang', requestStream: false, responseStream: false, ...raw },
} satisfies grpc.ServiceDefinition;
export const OrdersClient = grpc.makeGenericClientConstructor(service, 'Orders');
export type Client = InstanceType<typeof OrdersClient> & Record<string, Json>;

export const json = (value: unknown) => Buffer.from(JSON.stringify(value));
export const parse = (b: Buffer): Json => JSON.parse(b.toString('utf8'));

/** The upstream gRPC service (plaintext HTTP/2: h2c), recording what it saw. */
export async function startGrpcUpstream() {
  const seen = { cancelled: 0, hangs: 0, downs: 0, fails: 0 };
  const server = new grpc.Server();
  server.addService(service, {
    echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      const md = new grpc.Metadata();
      md.set('x-upstream-header', 'yes');
      call.sendMetadata(md);
      const trailer = new grpc.Metadata();
      trailer.set('x-upstream-trailer', 'also');
      done(null, json({ got: parse(call.request), metadata: call.metadata.getMap() }), trailer);
    },
    list(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      const { n, size } = parse(call.request);
      for (let i = 0; i < n; i++) call.write(json({ i, pad: 'x'.repeat(size) }));
      call.end();
    },
    early(call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      // answers at the first message, the caller's stream still open
      call.once('data', () => done({ code: grpc.status.INVALID_ARGUMENT, details: 'first message refused' }));
    },
    sum(call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      let total = 0;
      let count = 0;
      call.on('data', (b: Buffer) => ((total += parse(b).n), (count += 1)));
      call.on('end', () => done(null, json({ total, count })));
    },
    chat(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      call.on('data', (b: Buffer) => call.write(json({ echo: parse(b).say })));
      call.on('end', () => call.end());
    },
    fail(_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      seen.fails += 1;
      const md = new grpc.Metadata();
      md.set('x-reason', 'gone');
      done({ code: grpc.status.NOT_FOUND, details: 'no such order: 42 (ünïcode)', metadata: md });
    },
    deny(_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      const md = new grpc.Metadata();
      md.set('www-authenticate', 'Bearer realm="orders"');
      md.set('x-reason', 'token expired');
      done({ code: grpc.status.UNAUTHENTICATED, details: 'log in again', metadata: md });
    },
    down(_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      seen.downs += 1;
      done({ code: grpc.status.UNAVAILABLE, details: 'backend store unreachable' });
    },
    hang(call: grpc.ServerUnaryCall<Buffer, Buffer>) {
      seen.hangs += 1;
      call.on('cancelled', () => (seen.cancelled += 1));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { url: `http://127.0.0.1:${port}`, seen, close: () => server.forceShutdown() };
}

/** A bare node:http2 h2c server (non-gRPC answers with trailers), closing each connection after `closeAfter` streams. */
export async function startH2cUpstream() {
  const state = { sessions: 0, closeAfter: Infinity, streams: 0 };
  const server: Http2Server = createH2cServer();
  server.on('session', (s: ServerHttp2Session) => {
    state.sessions += 1;
    let n = 0;
    s.on('stream', () => {
      n += 1;
      if (n >= state.closeAfter) setImmediate(() => s.close()); // GOAWAY after this stream
    });
  });
  server.on('stream', (stream, headers) => {
    state.streams += 1;
    if (headers[':path'] === '/slow') return; // never answers
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers(
          headers[':path'] === '/malformed'
            ? { 'content-length': '999' } // forbidden in trailers: the client's HTTP/2 layer resets the stream
            : { 'x-checksum': 'abc', 'set-cookie': 'evil=1', 'www-authenticate': 'Basic' },
        ),
      );
      const seen = { ...headers };
      stream.end(JSON.stringify({ path: headers[':path'], method: headers[':method'], headers: seen, body }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function client(gw: RunningGateway): Client {
  return new OrdersClient(`127.0.0.1:${gw.port}`, grpc.credentials.createSsl(Buffer.from(testCertificate().certPem)), {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
  }) as Client;
}

/** A unary call: the answer or the error, with the response metadata and the status's metadata. */
export function unary(c: Client, method: string, body: unknown, metadata = new grpc.Metadata(), deadlineMs = 10_000) {
  return new Promise<{ value?: Json; error?: grpc.ServiceError; headers?: grpc.Metadata; status?: grpc.StatusObject }>(
    (resolve) => {
      const out: { value?: Json; error?: grpc.ServiceError; headers?: grpc.Metadata; status?: grpc.StatusObject } = {};
      const call = c[method](
        json(body),
        metadata,
        { deadline: Date.now() + deadlineMs },
        (error: grpc.ServiceError | null, value?: Buffer) => {
          if (error) out.error = error;
          if (value) out.value = parse(value);
        },
      );
      call.on('metadata', (md: grpc.Metadata) => (out.headers = md));
      call.on('status', (status: grpc.StatusObject) => {
        out.status = status;
        setImmediate(() => resolve(out));
      });
    },
  );
}

/** A gRPC length-prefixed message frame. */
export function frame(message: unknown): Buffer {
  const body = json(message);
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}
