// Informational: gRPC through the gateway (HTTP/2 + TLS 1.3 from the client, h2c to the upstream: protocol h2c), the
// JWT + limit route of gateway_proxy, against nginx `grpc_pass grpc://` (listen ... ssl http2, upstream keepalive)
// and the upstream called directly over h2c (the ceiling, no proxy). h2load (Debian nghttp2-client) POSTs the same
// unary call (a 5-byte gRPC frame header and a 64-byte message, `content-type: application/grpc`, `te: trailers`) on
// 32 connections × 10 streams; the upstream is a bare node:http2 server answering like a unary gRPC method
// (bench/servers/grpc_backend.mjs). Every call must succeed with a 2xx. No target: issue 7 asks for none on gRPC.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternateRounds, h2load, requireH2load } from '../lib/h2load.mjs';
import { serverGroup } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';

const servers = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');
const ROUNDS = 3;
const SECONDS = 4;
const CONNECTIONS = 32;
const STREAMS = 10;
const MESSAGE = 64;

export async function run() {
  requireH2load();
  const tls = selfSigned();
  const group = serverGroup();
  const start = (file, input) => group.start(join(servers, file), input);
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-grpc-'));
  try {
    const body = join(dir, 'call.bin');
    const frame = Buffer.alloc(5 + MESSAGE, 0x61);
    frame[0] = 0;
    frame.writeUInt32BE(MESSAGE, 1);
    writeFileSync(body, frame);
    const backendServer = await start('grpc_backend.mjs', {});
    const backend = `http://127.0.0.1:${backendServer.port}`;
    const gatehouse = await start('gatehouse_gateway.mjs', { ...tls, backend, grpc: true });
    const nginx = await start('nginx_proxy.mjs', { ...tls, backend, grpc: true });
    const path = '/bench.Orders/Get';
    const targets = [
      {
        name: 'gatehouse gateway, gRPC to an h2c upstream (JWT + limit route)',
        url: `https://127.0.0.1:${gatehouse.port}${path}`,
        pid: gatehouse.pid,
      },
      {
        name: `${nginx.version} grpc_pass grpc:// (1 worker, upstream keepalive)`,
        url: `https://127.0.0.1:${nginx.port}${path}`,
      },
      { name: 'the upstream called directly over h2c (no proxy, no TLS)', url: `${backend}${path}` },
    ];
    const load = (t, seconds) =>
      h2load(t.url, {
        seconds,
        connections: CONNECTIONS,
        streams: STREAMS,
        data: body,
        headers: {
          authorization: `Bearer ${gatehouse.token}`,
          'content-type': 'application/grpc',
          te: 'trailers',
        },
      });
    const { results, cpuUsPerOp } = await alternateRounds({ targets, rounds: ROUNDS, seconds: SECONDS, load });
    return [
      {
        bench: 'gRPC through the gateway (HTTP/2 + TLS in, h2c out), h2load (informational)',
        target: 'none; nginx grpc_pass and the upstream alone in the same table',
        need: 0,
        results,
        note:
          `Setup: h2load (one thread) POST ${path} with a ${MESSAGE}-byte message, ${CONNECTIONS} connections × ` +
          `${STREAMS} streams, ${ROUNDS} alternating rounds of ${SECONDS} s after a 1 s warm-up each (and one 2 s ` +
          'warm-up run per target), medians; every call must succeed with a 2xx. The gateway route has auth: jwt ' +
          '(verified-token cache) and a per-client local limit high enough never to reject, as in gateway_proxy; ' +
          'nginx checks no token. Gateway process CPU per answered call: ' +
          `${cpuUsPerOp(0).toFixed(0)} µs.`,
      },
    ];
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
