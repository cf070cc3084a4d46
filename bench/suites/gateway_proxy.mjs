// Issue 7 benchmark: the gateway doing JWT auth (cached verify) + a local rate limit + proxying, against a bare
// node:https + undici Pool proxy that does nothing else, fastify 5 + @fastify/reply-from doing plain proxying, and
// nginx proxy_pass. Every front end terminates TLS 1.3 with the same certificate and proxies to the same plain
// node:http backend (keep-alive); every server runs in its own child process, autocannon in another.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareHttp, serverGroup } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';

const servers = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');

export async function run() {
  const tls = selfSigned();
  const group = serverGroup();
  const start = (file, input) => group.start(join(servers, file), input);
  try {
    const backendServer = await start('backend.mjs', {});
    const backend = `http://127.0.0.1:${backendServer.port}`;
    const gatehouse = await start('gatehouse_gateway.mjs', { ...tls, backend });
    const bare = await start('bare_proxy.mjs', { ...tls, backend });
    const fastify = await start('fastify_proxy.mjs', { ...tls, backend });
    const nginx = await start('nginx_proxy.mjs', { ...tls, backend });
    const plain = await start('gatehouse_gateway.mjs', { ...tls, backend, plain: true });
    // The same request for every front end (the others ignore the token).
    // (nginx's pid is its master's, not the worker's that serves: no CPU figure for nginx)
    const target = (s, withCpu = true) => ({
      url: `https://127.0.0.1:${s.port}/orders/42`,
      method: 'GET',
      headers: { authorization: `Bearer ${gatehouse.token}` },
      ...(withCpu ? { pid: s.pid } : {}),
    });
    const NAMES = {
      gatehouse: 'gatehouse gateway (JWT cached verify + local limit + proxy)',
      bare: 'bare node:https + undici Pool.stream proxy',
      fastify: 'fastify 5.12.8 + @fastify/reply-from 12.6.5 (plain proxy)',
      nginx: `${nginx.version} proxy_pass (1 worker, upstream keepalive)`,
      plain: 'gatehouse gateway, public route, no limit (proxy only)',
    };
    const results = await compareHttp({
      targets: {
        [NAMES.gatehouse]: target(gatehouse),
        [NAMES.bare]: target(bare),
        [NAMES.fastify]: target(fastify),
        [NAMES.nginx]: target(nginx, false),
        [NAMES.plain]: target(plain),
      },
      rounds: 5,
      seconds: 3,
      connections: 32,
    });
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    const subject = by[NAMES.gatehouse];
    const cpu = (name) => by[name].cpuMsPerOp;
    const cpuNote =
      cpu(NAMES.gatehouse) === undefined || cpu(NAMES.bare) === undefined
        ? ''
        : ` Front-end process CPU per answered request over all rounds (/proc; less sensitive to other load on the ` +
          `machine than throughput; the backend's and autocannon's CPU not counted): gatehouse ` +
          `${(cpu(NAMES.gatehouse) * 1000).toFixed(0)} µs, bare ${(cpu(NAMES.bare) * 1000).toFixed(0)} µs ` +
          `(bare ÷ gatehouse ${(cpu(NAMES.bare) / cpu(NAMES.gatehouse)).toFixed(2)}×), public route ` +
          `${(cpu(NAMES.plain) * 1000).toFixed(0)} µs, fastify ${(cpu(NAMES.fastify) * 1000).toFixed(0)} µs.`;
    const setup =
      'Setup: GET /orders/42 with the same Bearer header to every front end, 32 keep-alive connections, 3 s per ' +
      'target per round after a 2 s warm-up, 5 alternating rounds, medians; autocannon 9 in its own process; every ' +
      'server (and the backend) in its own process on loopback, TLS 1.3 with the same self-signed P-256 certificate. ' +
      'The gateway route has `auth: jwt` (createVerifier on a static ES256 key, verified-token cache on) and a ' +
      'per-client local GCRA limit set high enough never to reject.' +
      cpuNote;
    return [
      {
        bench: 'Gateway (JWT + rate limit + proxy) vs bare node:https + undici Pool proxy, TLS 1.3, 32 connections',
        target: '≥ 0.9× bare',
        need: 0.9,
        results: [subject, by[NAMES.bare]],
        note: setup,
      },
      {
        bench: 'Gateway (JWT + rate limit + proxy) vs fastify + @fastify/reply-from (plain proxy)',
        target: '≥ 1.1× fastify',
        need: 1.1,
        results: [subject, by[NAMES.fastify]],
      },
      {
        bench: 'Gateway (JWT + rate limit + proxy) vs nginx proxy_pass (informational)',
        target: 'none; in the same table',
        need: 0,
        results: [subject, by[NAMES.nginx], by[NAMES.plain]],
        note: `Same run: gateway without auth and limit ÷ bare ${(by[NAMES.plain].opsPerSec / by[NAMES.bare].opsPerSec).toFixed(2)}×, bare ÷ nginx ${(by[NAMES.bare].opsPerSec / by[NAMES.nginx].opsPerSec).toFixed(2)}×, fastify ÷ bare ${(by[NAMES.fastify].opsPerSec / by[NAMES.bare].opsPerSec).toFixed(2)}×.`,
      },
    ];
  } finally {
    await group.stopAll();
  }
}
