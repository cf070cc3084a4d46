// npm run soak: the two-minute rotation soak of the mesh (docs/mesh.md "Rotation").
// Two sidecars (frontend → backend) on loopback, constant load through both, every SVID renewed every second.
// Pass: zero failed requests and at least 95 % resumed TLS handshakes on the backend sidecar.
// Bounded: stops by itself after SOAK_SECONDS (default 120). Needs the build: npm run build first.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';

const root = new URL('../dist/', import.meta.url);
if (!existsSync(new URL('mesh/index.js', root))) {
  console.error('soak: dist/ is missing; run npm run build first');
  process.exit(2);
}
const { Sidecar } = await import(new URL('mesh/index.js', root).href);
const { InProcessCaClient } = await import(new URL('app/mesh_ca_client.js', root).href);
const { Authority, Revocations } = await import(new URL('pki/index.js', root).href);
const { MemoryRecordStore } = await import(new URL('adapters/index.js', root).href);
const { systemClock, silentLogger } = await import(new URL('core/index.js', root).href);

const SECONDS = Math.max(5, Math.min(3600, Number(process.env.SOAK_SECONDS ?? 120)));
const WORKERS = 4;
const TD = 'soak.local';
const DAY = 86_400_000;
const id = (sa) => `spiffe://${TD}/ns/demo/sa/${sa}`;

const secrets = new Map();
const vault = {
  putSecret: async (name, value) => void secrets.set(name, Buffer.from(value)),
  getSecret: async (name) => secrets.get(name),
};
const store = new MemoryRecordStore({ clock: systemClock });
const authority = await Authority.open({
  store,
  vault,
  clock: systemClock,
  trustDomain: TD,
  rootTtlMs: 3650 * DAY,
  intermediateTtlMs: 365 * DAY,
  logger: silentLogger,
});
const client = new InProcessCaClient({
  authority,
  revocations: new Revocations(store, systemClock, DAY),
  clock: systemClock,
  redeem: async (t) => t,
});

const app = createServer((req, res) => res.end('ok'));
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
const appAddress = `127.0.0.1:${app.address().port}`;
const base = { client, trustDomain: TD, clock: systemClock, logger: silentLogger, policies: [] };
const backend = await Sidecar.start({
  ...base,
  credential: () => id('backend'),
  mode: 'STRICT',
  policies: [{ name: 'frontend-only', action: 'ALLOW', rules: [{ from: [{ principals: [id('frontend')] }] }] }],
  inbound: { host: '127.0.0.1', port: 0, app: appAddress },
});
const frontend = await Sidecar.start({
  ...base,
  credential: () => id('frontend'),
  mode: 'STRICT',
  inbound: { host: '127.0.0.1', port: 0, app: appAddress },
  outbound: {
    host: '127.0.0.1',
    port: 0,
    upstreams: [{ name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: id('backend') }],
  },
  maxRequestsPerConnection: 5,
});

const dispatcher = new Agent({ connections: WORKERS });
const url = `http://127.0.0.1:${frontend.outboundAddress.port}/soak`;
let ok = 0;
const failures = new Map();
let running = true;
async function worker() {
  while (running) {
    try {
      const res = await request(url, { headers: { host: 'backend' }, dispatcher });
      await res.body.dump();
      if (res.statusCode === 200) ok++;
      else failures.set(`status ${res.statusCode}`, (failures.get(`status ${res.statusCode}`) ?? 0) + 1);
    } catch (err) {
      failures.set(err.message, (failures.get(err.message) ?? 0) + 1);
    }
  }
}
const workers = Array.from({ length: WORKERS }, worker);
let rotations = 0;
for (let s = 0; s < SECONDS; s++) {
  await sleep(1_000);
  await Promise.all([backend.renewNow(), frontend.renewNow()]);
  rotations++;
  if (s % 10 === 9) {
    const { inbound } = backend.stats();
    console.log(
      `${s + 1}s: ${ok} ok, ${[...failures.values()].reduce((a, b) => a + b, 0)} failed, ${inbound.resumed}/${inbound.admitted} resumed`,
    );
  }
}
running = false;
await Promise.all(workers);
const { inbound } = backend.stats();
const failed = [...failures.values()].reduce((a, b) => a + b, 0);
const rate = inbound.admitted === 0 ? 0 : inbound.resumed / inbound.admitted;
const result = {
  seconds: SECONDS,
  rotations_per_sidecar: rotations,
  requests_ok: ok,
  requests_failed: failed,
  failures: Object.fromEntries(failures),
  handshakes: inbound.admitted,
  resumed: inbound.resumed,
  resumption_rate: Number(rate.toFixed(4)),
  refused: inbound.refused,
};
console.log(JSON.stringify(result, null, 2));
await dispatcher.close();
await frontend.stop();
await backend.stop();
app.closeAllConnections();
app.close();
const pass = failed === 0 && rate >= 0.95;
console.log(pass ? 'soak: PASS' : 'soak: FAIL (needs zero failed requests and >= 95 % resumed handshakes)');
process.exit(pass ? 0 : 1);
