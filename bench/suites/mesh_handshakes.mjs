// Issue 6 benchmark: full mTLS handshakes per second (TLS 1.3, P-256 SVIDs from one gatehouse CA, client certificate
// verified, no session reuse) on gatehouse's mTLS server (createMtlsServer) against a bare Node `tls.createServer`
// verifying client certificates, with nginx (ssl_verify_client on) in the same table when it is installed. A third,
// informational Node row (`https.createServer` reading the peer certificate) does the protocol work gatehouse cannot
// skip: node:http parsing the GET and learning who the client is; the gap to it is gatehouse's own. Every server runs
// in its own process (nginx: one worker); the load is a child process opening fresh connections with 16 in flight,
// one `GET /` each, for a fixed time; targets alternate over rounds.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout, clearTimeout } from 'node:timers';
import { promisify } from 'node:util';
import { startServer } from '../lib/http_load.mjs';
import { cpuMs } from '../lib/measure.mjs';
import { createCaSnapshot, openCa } from '../lib/mesh_ca.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const servers = join(here, '..', 'servers');
const exec = promisify(execFile);
const ROUNDS = 5;
const SECONDS = 5;
const IN_FLIGHT = 16;
const HTTPS_ROW = 'bare Node https.createServer (same TLS, reads the peer certificate, HTTP ok; informational)';

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function handshakes(port, client, seconds) {
  const spec = { port, ...client, inFlight: IN_FLIGHT, seconds };
  const { stdout } = await exec(process.execPath, [
    join(here, '..', 'lib', 'handshake_child.mjs'),
    JSON.stringify(spec),
  ]);
  return JSON.parse(stdout.trim().split('\n').pop());
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function hasNginx() {
  try {
    await exec('nginx', ['-v']);
    return true;
  } catch {
    return false;
  }
}

/** nginx with a private config under a temp dir: loopback, one worker, TLS 1.3, ssl_verify_client on. */
async function startNginx(material, bundlePem) {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'chain.pem'), material.chainPem);
  writeFileSync(join(dir, 'key.pem'), material.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'bundle.pem'), bundlePem);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${dir}/chain.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_client_certificate ${dir}/bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_session_cache off;
    location / { return 200 "ok"; }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000); // never outlive a run
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
      const socket = createConnection(port, '127.0.0.1');
      socket.on('connect', () => resolve(socket.destroy() || true));
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 50 || child.exitCode !== null) throw new Error('nginx did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    async stop() {
      clearTimeout(killer);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function run() {
  const snapshot = await createCaSnapshot();
  const ca = await openCa(snapshot);
  const client = await ca.issue('loadgen');
  const clientTls = { ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem };
  const serverMaterial = await ca.issue('backend');
  const started = [];
  try {
    const targets = {};
    const pids = {};
    const gatehouse = await startServer(join(servers, 'mesh_tls_gatehouse.mjs'), { ca: snapshot, sa: 'backend' });
    started.push(gatehouse);
    targets['gatehouse createMtlsServer (SPIFFE peer check, HTTP ok)'] = gatehouse.port;
    pids['gatehouse createMtlsServer (SPIFFE peer check, HTTP ok)'] = gatehouse.pid;
    const bare = await startServer(join(servers, 'mesh_tls_bare.mjs'), { ...serverMaterial, bundlePem: ca.bundlePem });
    started.push(bare);
    targets['bare Node tls.createServer (requestCert + rejectUnauthorized)'] = bare.port;
    pids['bare Node tls.createServer (requestCert + rejectUnauthorized)'] = bare.pid;
    const https = await startServer(join(servers, 'mesh_https_bare.mjs'), {
      ...serverMaterial,
      bundlePem: ca.bundlePem,
    });
    started.push(https);
    targets[HTTPS_ROW] = https.port;
    pids[HTTPS_ROW] = https.pid;
    const withNginx = await hasNginx();
    if (withNginx) {
      const nginx = await startNginx(serverMaterial, ca.bundlePem);
      started.push(nginx);
      targets['nginx 1.22 (1 worker, ssl_verify_client on, return 200)'] = nginx.port;
    }
    const names = Object.keys(targets);
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    const cpu = Object.fromEntries(names.map((n) => [n, { ms: 0, handshakes: 0 }]));
    for (const n of names) await handshakes(targets[n], clientTls, 1); // warm up
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of r % 2 === 0 ? names : [...names].reverse()) {
        const before = cpuMs(pids[n]);
        const res = await handshakes(targets[n], clientTls, SECONDS);
        const after = cpuMs(pids[n]);
        if (before !== undefined && after !== undefined) {
          cpu[n].ms += after - before;
          cpu[n].handshakes += res.ok;
        }
        if (res.errors > 0 || res.ok === 0) throw new Error(`${n}: ${res.errors} failed, ${res.ok} ok in a round`);
        samples[n].push(res.okPerSec);
        console.error(`    ${n}: ${Math.round(res.okPerSec)} handshakes/s`);
      }
    }
    const subject = median(samples[names[0]]);
    const results = names.map((n) => ({ name: n, opsPerSec: median(samples[n]), ratio: subject / median(samples[n]) }));
    const bareRow = results[1];
    const perHandshake = (n) => (cpu[n].handshakes ? cpu[n].ms / cpu[n].handshakes : NaN);
    const [gName, bName] = names;
    const cpuNote = Number.isNaN(perHandshake(gName))
      ? ''
      : ` Server CPU per completed handshake over all rounds (/proc, less sensitive to the other load on the ` +
        `machine): gatehouse ${perHandshake(gName).toFixed(2)} ms, bare Node ${perHandshake(bName).toFixed(2)} ms ` +
        `(bare ÷ gatehouse ${(perHandshake(bName) / perHandshake(gName)).toFixed(2)}×), Node https reading the ` +
        `peer certificate ${perHandshake(HTTPS_ROW).toFixed(2)} ms ` +
        `(÷ gatehouse ${(perHandshake(HTTPS_ROW) / perHandshake(gName)).toFixed(2)}×).`;
    return [
      {
        bench: 'Full mTLS handshakes/s (TLS 1.3, P-256, client certificate verified, no resumption)',
        target: '≥ 0.9× bare Node tls.createServer; Node https and nginx informational',
        results,
        checks: [{ label: 'vs bare Node', value: bareRow.ratio, need: 0.9 }],
        note:
          `Setup: a load process keeps ${IN_FLIGHT} fresh TLS connections in flight (no session reuse), each ` +
          `presenting a client SVID (the load does not verify the server chain, to stay cheaper than the servers) and sending one GET with Connection: close; ` +
          `${SECONDS} s per target per round, ${ROUNDS} alternating rounds, medians; every server in its own ` +
          `process on loopback with SVIDs from the same gatehouse CA.` +
          (withNginx ? '' : ' nginx was not installed: no nginx row.') +
          cpuNote,
      },
    ];
  } finally {
    for (const s of started) await s.stop();
  }
}
