// Issue 4 benchmark: the client-credentials token endpoint (ES256, TLS 1.3, keep-alive, 32 connections) against
// node-oidc-provider 8 and against the ceiling of Node itself (a minimal node:https endpoint doing only TLS 1.3, form
// parse, SHA-256 secret check, ES256 sign and a JSON reply). Also gatehouse's endpoint served through fastify, the
// measurement ADR 0001 asked for. Every server runs in its own child process; autocannon runs in another.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareHttp, startServer } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';

const servers = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');

/** A client_credentials request with client_secret_basic for the server's client. */
function tokenTarget(server, path) {
  const basic = Buffer.from(`${encodeURIComponent(server.clientId)}:${encodeURIComponent(server.secret)}`);
  return {
    url: `https://127.0.0.1:${server.port}${path}`,
    headers: {
      authorization: `Basic ${basic.toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent(server.audience)}`,
  };
}

const NAMES = {
  gatehouse: 'gatehouse token endpoint (raw node:https route)',
  oidc: 'node-oidc-provider 8.8.1 (JWT ES256 via resourceIndicators)',
  bare: 'bare node:https (form + SHA-256 + ES256 + JSON)',
  bareAsync: 'bare node:https, ES256 signed on the thread pool (informational)',
  fastify: 'gatehouse token endpoint served by fastify',
};

export async function run() {
  const tls = selfSigned();
  const started = [];
  try {
    const gatehouse = await startServer(join(servers, 'gatehouse_identity.mjs'), tls);
    started.push(gatehouse);
    const viaFastify = await startServer(join(servers, 'gatehouse_identity.mjs'), { ...tls, fastify: true });
    started.push(viaFastify);
    const oidc = await startServer(join(servers, 'oidc_provider.mjs'), tls);
    started.push(oidc);
    const bare = await startServer(join(servers, 'bare_token.mjs'), tls);
    started.push(bare);
    const bareAsync = await startServer(join(servers, 'bare_token.mjs'), { ...tls, asyncSign: true });
    started.push(bareAsync);
    const results = await compareHttp({
      targets: {
        [NAMES.gatehouse]: tokenTarget(gatehouse, '/oauth2/token'),
        [NAMES.oidc]: tokenTarget(oidc, '/token'),
        [NAMES.bare]: tokenTarget(bare, '/oauth2/token'),
        [NAMES.bareAsync]: tokenTarget(bareAsync, '/oauth2/token'),
        [NAMES.fastify]: tokenTarget(viaFastify, '/oauth2/token'),
      },
      rounds: 5,
      seconds: 5,
      connections: 32,
    });
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    const subject = by[NAMES.gatehouse];
    const setup =
      'Setup: 32 keep-alive connections, 5 s per target per round, 5 alternating rounds, medians; autocannon 9 in ' +
      'its own process; every server in its own process on loopback with the same self-signed P-256 certificate. ' +
      "gatehouse's per-address flood guard is raised for the run (all load comes from 127.0.0.1).";
    return [
      {
        bench: 'Client credentials token endpoint vs node-oidc-provider 8, ES256, TLS 1.3, 32 connections',
        target: '≥ 2× tokens/s and p99 ≤ 0.5× its p99',
        results: [subject, by[NAMES.oidc]],
        checks: [
          { label: 'tokens/s', value: subject.opsPerSec / by[NAMES.oidc].opsPerSec, need: 2 },
          { label: 'p99', value: subject.p99Ms / by[NAMES.oidc].p99Ms, need: 0.5, atMost: true },
        ],
        note: setup,
      },
      {
        bench: 'Client credentials token endpoint vs the bare node:https ceiling',
        target: '≥ 0.85× bare',
        results: [subject, by[NAMES.bare], by[NAMES.bareAsync]],
        checks: [{ label: 'throughput', value: subject.opsPerSec / by[NAMES.bare].opsPerSec, need: 0.85 }],
        note:
          "gatehouse computes the ES256 signature with node:crypto's callback form (libuv's thread pool), so the event " +
          'loop serves other connections meanwhile; the target compares it with the bare endpoint as the issue defines ' +
          'it (synchronous sign), and the last row is the same bare endpoint signing on the thread pool too.',
      },
      {
        bench: 'ADR 0001: token endpoint on the raw node:https route vs through fastify (informational)',
        target: 'none; recorded for the decision',
        need: 0,
        results: [subject, by[NAMES.fastify]],
        note: `Fastify-served endpoint ÷ bare ceiling in the same run: ${(by[NAMES.fastify].opsPerSec / by[NAMES.bare].opsPerSec).toFixed(2)}×.`,
      },
    ];
  } finally {
    for (const s of started) await s.stop();
  }
}
