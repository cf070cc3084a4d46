// Issue 6 benchmark: a pair of gatehouse sidecars (app → outbound sidecar → mTLS keep-alive → inbound sidecar → app)
// against a pair of bare Node TLS proxies doing nothing else (node:http + undici with a client certificate out,
// node:https requiring client certificates in), and the latency the pair adds at 500 req/s compared with calling the
// app directly. Every server and proxy runs in its own process; autocannon in another; targets alternate over rounds.
import { execFile } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { compareHttp, startServer } from '../lib/http_load.mjs';
import { createCaSnapshot, openCa } from '../lib/mesh_ca.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const servers = join(here, '..', 'servers');
const runFile = promisify(execFile);
const RATE = 500;
const LATENCY_ROUNDS = 5;
const LATENCY_SECONDS = 4;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const NAMES = {
  gatehouse: 'gatehouse sidecar pair (STRICT mTLS, SPIFFE checks, XFCC)',
  bare: 'bare Node TLS proxy pair (node:http + undici out, node:https in)',
  direct: 'the app called directly (plain HTTP)',
};

/**
 * One fixed-rate round with bench/lib/open_loop_child.mjs: requests evenly spaced (autocannon -R sends each second's
 * quota as a burst at its start, which measures its own queueing), latency from the scheduled send time with
 * sub-millisecond resolution (autocannon keeps whole milliseconds).
 */
async function offer(target, seconds) {
  const spec = { ...target, rate: RATE, seconds, connections: 10, warm: true };
  const { stdout } = await runFile(process.execPath, [
    join(here, '..', 'lib', 'open_loop_child.mjs'),
    JSON.stringify(spec),
  ]);
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** Alternating fixed-rate rounds; medians of p50, mean and p99 per target. */
async function latencyAt(targets) {
  const names = Object.keys(targets);
  const samples = Object.fromEntries(names.map((n) => [n, { ops: [], p50: [], mean: [], p99: [] }]));
  for (const n of names) await offer(targets[n], 1);
  for (let r = 0; r < LATENCY_ROUNDS; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const res = await offer(targets[n], LATENCY_SECONDS);
      if (res.other > 0 || res.limited > 0 || res.errors > 0 || res.admitted === 0) {
        throw new Error(`${n}: broken round at ${RATE}/s`);
      }
      for (const [k, v] of [
        ['ops', res.admittedPerSec],
        ['p50', res.p50Ms],
        ['mean', res.meanMs],
        ['p99', res.p99Ms],
      ])
        samples[n][k].push(v);
      console.error(`    ${n} at ${RATE}/s: p50 ${res.p50Ms} ms, mean ${res.meanMs} ms, p99 ${res.p99Ms} ms`);
    }
  }
  return Object.fromEntries(
    names.map((n) => [n, Object.fromEntries(Object.entries(samples[n]).map(([k, v]) => [k, median(v)]))]),
  );
}

export async function run() {
  const snapshot = await createCaSnapshot();
  const ca = await openCa(snapshot);
  const started = [];
  const start = async (script, input) => {
    const server = await startServer(join(servers, script), input);
    started.push(server);
    return server;
  };
  try {
    const app = await start('mesh_app.mjs', {});
    const appAddress = `127.0.0.1:${app.port}`;
    const backend = await start('mesh_sidecar.mjs', { ca: snapshot, sa: 'backend', app: appAddress });
    const frontend = await start('mesh_sidecar.mjs', {
      ca: snapshot,
      sa: 'frontend',
      app: appAddress,
      upstream: { name: 'backend', address: `127.0.0.1:${backend.port}`, sa: 'backend' },
    });
    const material = (m) => ({ ...m, bundlePem: ca.bundlePem });
    const bareIn = await start('mesh_proxy_bare.mjs', {
      role: 'inbound',
      ...material(await ca.issue('backend')),
      target: appAddress,
    });
    const bareOut = await start('mesh_proxy_bare.mjs', {
      role: 'outbound',
      ...material(await ca.issue('frontend')),
      target: `127.0.0.1:${bareIn.port}`,
    });
    const targets = {
      [NAMES.gatehouse]: {
        url: `http://127.0.0.1:${frontend.outboundPort}/orders`,
        method: 'GET',
        headers: { host: 'backend' },
      },
      [NAMES.bare]: { url: `http://127.0.0.1:${bareOut.port}/orders`, method: 'GET' },
      [NAMES.direct]: { url: `http://${appAddress}/orders`, method: 'GET' },
    };
    const throughput = await compareHttp({
      targets: { [NAMES.gatehouse]: targets[NAMES.gatehouse], [NAMES.bare]: targets[NAMES.bare] },
      rounds: 3,
      seconds: 5,
      connections: 32,
    });
    const latency = await latencyAt(targets);
    const g = latency[NAMES.gatehouse];
    const b = latency[NAMES.bare];
    const d = latency[NAMES.direct];
    const addedP50 = g.p50 - d.p50;
    const latencyRows = [NAMES.gatehouse, NAMES.bare, NAMES.direct].map((n) => ({
      name: n,
      opsPerSec: latency[n].ops,
      p99Ms: latency[n].p99,
      ratio: latency[NAMES.gatehouse].ops / latency[n].ops,
    }));
    const ms = (x) => `${x.toFixed(2)} ms`;
    return [
      {
        bench: 'Sidecar pair with keep-alive vs a pair of bare Node TLS proxies, 32 connections',
        target: '≥ 0.8× the bare pair',
        need: 0.8,
        results: throughput,
        note:
          'Setup: GET through app-side proxy → mTLS (TLS 1.3, P-256 SVIDs from one gatehouse CA, keep-alive) → ' +
          'peer proxy → plain HTTP app answering a small JSON body; 32 connections, 5 s per target per round, 3 ' +
          'alternating rounds, medians; autocannon 9, the app and each proxy in their own processes on loopback.',
      },
      {
        bench: `Latency the sidecar pair adds at ${RATE} req/s (evenly spaced, 10 connections)`,
        target: 'added p50 < 1 ms over calling the app directly',
        results: latencyRows,
        checks: [{ label: 'added p50 in ms (not ×), must be < 1', value: addedP50, need: 0.999, atMost: true }],
        note:
          `Medians of ${LATENCY_ROUNDS} alternating rounds of ${LATENCY_SECONDS} s: p50 gatehouse pair ${ms(g.p50)}, ` +
          `bare pair ${ms(b.p50)}, direct ${ms(d.p50)}; mean gatehouse pair ${ms(g.mean)}, bare pair ${ms(b.mean)}, ` +
          `direct ${ms(d.mean)} (added mean ${ms(g.mean - d.mean)}). Load: bench/lib/open_loop_child.mjs, ` +
          `requests evenly spaced at ${RATE}/s over 10 keep-alive connections (opened before the clock starts) whatever the answers, latency from ` +
          'the scheduled send time in fractions of a millisecond (earlier runs used autocannon -R, which sends each ' +
          'second\'s quota as one burst and keeps whole milliseconds). The "gatehouse ÷ this" column of this ' +
          'table compares achieved request rates (all ≈ 500/s), not latency.',
      },
    ];
  } finally {
    for (const s of started) await s.stop();
  }
}
