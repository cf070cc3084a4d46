// Informational: the gateway's HTTP/2 listener (gateway.http2.enabled) under load. h2load (Debian nghttp2-client)
// drives the same GET with the same Bearer token over HTTP/2 (32 connections × 10 concurrent streams) and, on the
// same listener, over HTTP/1.1 (h2load --h1, 32 connections); nginx with `listen ... ssl http2` in the same table.
// Every server and the backend run in their own processes on loopback, TLS 1.3. Any failed or non-2xx request fails
// the suite: a broken target must not pass as a slow one. No target: issue 7 asks for none on HTTP/2.
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

export async function run() {
  requireH2load();
  const tls = selfSigned();
  const group = serverGroup();
  const start = (file, input) => group.start(join(servers, file), input);
  try {
    const backendServer = await start('backend.mjs', {});
    const backend = `http://127.0.0.1:${backendServer.port}`;
    const gatehouse = await start('gatehouse_gateway.mjs', { ...tls, backend, http2: true });
    const nginx = await start('nginx_proxy.mjs', { ...tls, backend, http2: true });
    const url = (s) => `https://127.0.0.1:${s.port}/orders/42`;
    const targets = [
      {
        name: `gatehouse gateway over HTTP/2 (${CONNECTIONS} connections × ${STREAMS} streams)`,
        s: gatehouse,
        h1: false,
        pid: gatehouse.pid,
      },
      {
        name: `gatehouse gateway over HTTP/1.1, same listener (${CONNECTIONS} connections)`,
        s: gatehouse,
        h1: true,
        pid: gatehouse.pid,
      },
      { name: `${nginx.version} http2 proxy_pass (1 worker, ${CONNECTIONS} × ${STREAMS})`, s: nginx, h1: false },
    ];
    const load = (t, seconds) =>
      h2load(url(t.s), {
        h1: t.h1,
        seconds,
        connections: CONNECTIONS,
        streams: STREAMS,
        headers: { authorization: `Bearer ${gatehouse.token}` },
      });
    const { results, cpuUsPerOp } = await alternateRounds({ targets, rounds: ROUNDS, seconds: SECONDS, load });
    const cpu = (i) => cpuUsPerOp(i).toFixed(0);
    return [
      {
        bench: 'Gateway over HTTP/2 (JWT + rate limit + proxy), h2load (informational)',
        target: 'none; HTTP/1.1 on the same listener and nginx http2 in the same table',
        need: 0,
        results,
        note:
          `Setup: h2load (nghttp2 1.52, one thread) GET /orders/42 with the same Bearer header, ${ROUNDS} alternating ` +
          `rounds of ${SECONDS} s after a 1 s warm-up each (and one 2 s warm-up run per target), medians; every ` +
          'request must succeed with a 2xx. The gateway route is the one of gateway_proxy (auth: jwt with the ' +
          'verified-token cache, a per-client local limit high enough never to reject); upstreams are HTTP/1.1 ' +
          `keep-alive in both cases. Gateway process CPU per answered request: HTTP/2 ${cpu(0)} µs, HTTP/1.1 ` +
          `${cpu(1)} µs.`,
      },
    ];
  } finally {
    await group.stopAll();
  }
}
