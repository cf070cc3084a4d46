// Issue 7 benchmark: overload. The gateway (JWT auth + a per-client local limit of 50 requests/s, burst 20 +
// proxy) is offered 10× its configured limit open-loop (500 requests/s on a fixed schedule, bench/lib/
// open_loop_child.mjs), and the p99 latency of the admitted (2xx) requests is compared with the p99 at 0.5× the
// limit (25/s, nothing rejected). Alternating rounds, medians. The gateway and the backend run in their own
// processes, the load generator in another. nginx with limit_req (the same rate and burst, keyed by the Authorization
// header, nodelay) in front of the same backend is the reference line, measured in the same rounds.
import { execFile } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const servers = join(here, '..', 'servers');
const runFile = promisify(execFile);
const LIMIT = { rate: 50, per: '1s', burst: 20 };
const ROUNDS = 3;
const SECONDS = 6;
const CONNECTIONS = 20;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function offer(target, rate, seconds) {
  const spec = { ...target, rate, seconds, connections: CONNECTIONS, warm: true };
  const { stdout } = await runFile(process.execPath, [
    join(here, '..', 'lib', 'open_loop_child.mjs'),
    JSON.stringify(spec),
  ]);
  const res = JSON.parse(stdout.trim().split('\n').pop());
  if (res.errors > 0 || res.other > 0 || res.admitted === 0) {
    throw new Error(
      `overload at ${rate}/s: ${res.errors} errors, ${res.other} unexpected answers, ${res.admitted} admitted`,
    );
  }
  return res;
}

export async function run() {
  const tls = selfSigned();
  const started = [];
  try {
    const backendServer = await startServer(join(servers, 'backend.mjs'), {});
    started.push(backendServer);
    const backend = `http://127.0.0.1:${backendServer.port}`;
    const gw = await startServer(join(servers, 'gatehouse_gateway.mjs'), { ...tls, backend, limit: LIMIT });
    started.push(gw);
    const nginx = await startServer(join(servers, 'nginx_proxy.mjs'), {
      ...tls,
      backend,
      limit: { rate: LIMIT.rate, burst: LIMIT.burst },
    });
    started.push(nginx);
    const targetOf = (server) => ({
      url: `https://127.0.0.1:${server.port}/orders/42`,
      method: 'GET',
      headers: { authorization: `Bearer ${gw.token}` },
    });
    const targets = { gatehouse: targetOf(gw), nginx: targetOf(nginx) };
    const calm = LIMIT.rate / 2;
    const flood = LIMIT.rate * 10;
    for (const target of Object.values(targets)) await offer(target, calm, 2); // warm-up
    const samples = { gatehouse: { calm: [], flood: [] }, nginx: { calm: [], flood: [] } };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['calm', 'flood'] : ['flood', 'calm'];
      for (const phase of order) {
        for (const [server, target] of Object.entries(targets)) {
          const res = await offer(target, phase === 'calm' ? calm : flood, SECONDS);
          if (phase === 'calm' && res.limited > 0) {
            throw new Error(`${server}: ${res.limited} requests limited at 0.5× the limit`);
          }
          samples[server][phase].push(res);
          console.error(
            `    ${server} ${phase}: offered ${Math.round(res.offeredPerSec)}/s admitted ` +
              `${Math.round(res.admittedPerSec)}/s 429 ${res.limited} p99 admitted ${res.p99Ms} ms (all ${res.allP99Ms} ms)`,
          );
        }
      }
    }
    const row = (name, list) => ({
      name,
      opsPerSec: median(list.map((s) => s.admittedPerSec)),
      p99Ms: median(list.map((s) => s.p99Ms)),
    });
    const calmRow = row(`unloaded: offered ${calm}/s (0.5× the limit), admitted`, samples.gatehouse.calm);
    const floodRow = row(`overloaded: offered ${flood}/s (10× the limit), admitted`, samples.gatehouse.flood);
    const nginxCalm = row(`nginx limit_req, unloaded: offered ${calm}/s, admitted`, samples.nginx.calm);
    const nginxFlood = row(`nginx limit_req, overloaded: offered ${flood}/s, admitted`, samples.nginx.flood);
    const offered = median(samples.gatehouse.flood.map((s) => s.offeredPerSec));
    const limited = median(samples.gatehouse.flood.map((s) => s.limited / SECONDS));
    const nginxLimited = median(samples.nginx.flood.map((s) => s.limited / SECONDS));
    const p99Ratio = floodRow.p99Ms / calmRow.p99Ms;
    const nginxRatio = nginxFlood.p99Ms / nginxCalm.p99Ms;
    return [
      {
        bench: `Gateway under 10× its limit (${LIMIT.rate}/s per client, burst ${LIMIT.burst}), open-loop ${flood}/s`,
        target: 'p99 of admitted requests ≤ 3× the unloaded p99; nginx limit_req as the reference line',
        results: [
          { ...floodRow, ratio: 1 },
          { ...calmRow, ratio: floodRow.opsPerSec / calmRow.opsPerSec },
          { ...nginxFlood, ratio: floodRow.opsPerSec / nginxFlood.opsPerSec },
          { ...nginxCalm, ratio: floodRow.opsPerSec / nginxCalm.opsPerSec },
        ],
        checks: [{ label: 'admitted p99 ÷ unloaded p99', value: p99Ratio, need: 3, atMost: true }],
        note:
          `Setup: one client token, an undici Pool of ${CONNECTIONS} keep-alive connections sending on a fixed ` +
          'schedule whatever the answers (latency from the scheduled time, so generator-side queueing counts), ' +
          `${SECONDS} s per phase, ${ROUNDS} alternating rounds after a warm-up, medians; every connection opened ` +
          '(TLS handshake done, with an unauthenticated request the gateway answers 401 before its limiter) before ' +
          `each phase's clock starts, as keep-alive clients hold theirs; p99 over the 2xx answers ` +
          `only (the 429s are counted apart). Overloaded phase: ${Math.round(offered)}/s offered, ` +
          `${Math.round(limited)}/s answered 429. Not autocannon -R: it sends each second's quota as a burst at ` +
          'the start of the second, which the burst-20 limit rejects even at 0.5× the rate (seen: 340 of 600 ' +
          'requests limited at 100/s). ' +
          `Reference line: nginx limit_req (rate=${LIMIT.rate}r/s, burst=${LIMIT.burst} nodelay, keyed by the ` +
          `Authorization header, limit_req_status 429) admitted ${Math.round(nginxFlood.opsPerSec)}/s of ` +
          `${flood}/s and answered ${Math.round(nginxLimited)}/s 429; its admitted p99 under the flood is ` +
          `${nginxRatio.toFixed(2)}× its unloaded p99 (gatehouse ${p99Ratio.toFixed(2)}×). The "gatehouse ÷ this" ` +
          'column compares admitted rates.',
      },
    ];
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}
