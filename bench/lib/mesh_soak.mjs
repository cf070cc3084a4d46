// Pieces of `npm run soak` (bench/soak.mjs): a restartable CA service over HTTPS (the CA listener of gatehouse up on a
// CA kept in a memory store), a sidecar pair (frontend → backend) on loopback and a constant closed-loop load.
// Mirrors test/mesh/ca_service.ts and test/mesh/load.ts, which do the same for the 15-second runs of npm test.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';

const dist = new URL('../../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { MemoryLeases, MemoryRecordStore } = await load('adapters/index.js');
const { prepareCaListener } = await load('app/ca_listener.js');
const { HttpCaClient } = await load('app/mesh_http_ca_client.js');
const { Scheduler } = await load('app/scheduler.js');
const { loadConfig } = await load('config/index.js');
const { silentLogger, systemClock } = await load('core/index.js');
const { Sidecar } = await load('mesh/index.js');
const { Authority, JoinTokens } = await load('pki/index.js');

/** A `pki.limits` budget no soak reaches. */
const UNLIMITED = { rate: 1_000_000, period: '1s', burst: 1_000_000 };

export const TD = 'soak.local';
const DAY = 86_400_000;
export const spiffeId = (sa) => `spiffe://${TD}/ns/demo/sa/${sa}`;

/** A logger that keeps nothing but a count per message (a soak logs for minutes). */
export function countingLogger() {
  const counts = new Map();
  const count = (msg) => counts.set(msg, (counts.get(msg) ?? 0) + 1);
  const logger = {
    debug: () => {},
    info: (_obj, msg) => count(msg),
    warn: (_obj, msg) => count(msg),
    error: (_obj, msg) => count(msg),
    child: () => logger,
  };
  return { logger, count: (msg) => counts.get(msg) ?? 0, counts };
}

/**
 * The CA listener over a CA on a memory store (real clock). stop() closes the listener; start() opens the CA again
 * from the stored state and binds the same port: a real restart. `tuning` goes to Authority.open.
 */
export async function caService(tuning = {}, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gh-soak-ca-'));
  const secrets = new Map();
  const vault = {
    putSecret: async (name, value) => void secrets.set(name, Buffer.from(value)),
    getSecret: async (name) => secrets.get(name),
  };
  const store = new MemoryRecordStore({ clock: systemClock });
  const leases = new MemoryLeases();
  const joinTokens = new JoinTokens(store, systemClock);
  const open = () =>
    Authority.open({
      store,
      vault,
      clock: systemClock,
      trustDomain: TD,
      rootTtlMs: 3650 * DAY,
      intermediateTtlMs: 365 * DAY,
      logger: silentLogger,
      ...tuning,
    });
  let authority = await open();
  const bundleFile = join(dir, 'trust-bundle.pem');
  writeFileSync(bundleFile, authority.trustBundlePem());
  let port = 0;
  let listener;
  let scheduler;
  const clients = [];
  const service = {
    store,
    get authority() {
      return authority;
    },
    get listener() {
      return listener;
    },
    get url() {
      return `https://127.0.0.1:${port}`;
    },
    async start() {
      if (listener) return;
      if (port !== 0) authority = await open();
      const config = loadConfig({
        overrides: {
          dataDir: dir,
          trustDomain: TD,
          listen: { host: '127.0.0.1', ca: { port } },
          pki: {
            ...(options.bundleRefreshHint ? { bundleRefreshHint: options.bundleRefreshHint } : {}),
            // The soak renews from 127.0.0.1 far more often than a fleet: the CA's rate limits are lifted.
            limits: {
              signPerAddress: UNLIMITED,
              failedBootstrapPerAddress: UNLIMITED,
              renewPerAddress: UNLIMITED,
              renewPerSpiffeId: UNLIMITED,
            },
          },
        },
      });
      const core = { config, clock: systemClock, logger: silentLogger, records: store, leases, authority };
      const prepared = await prepareCaListener({
        core,
        trustBundleFile: bundleFile,
        ticketKeys: randomBytes(48),
        ready: () => true,
      });
      scheduler = new Scheduler(leases, silentLogger);
      port = Number(new URL(await prepared.listen(scheduler)).port);
      listener = prepared;
    },
    async stop() {
      const closing = listener;
      listener = undefined;
      await scheduler?.stop();
      await closing?.close();
    },
    joinToken: async (id) => (await joinTokens.create(id, 600_000)).token,
    client() {
      const client = new HttpCaClient({ url: service.url, bundlePem: authority.trustBundlePem() });
      clients.push(client);
      return client;
    },
    async close() {
      await service.stop();
      await Promise.all(clients.map((c) => c.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

/**
 * Two sidecars in front of one app: backend (only frontend may call it) and frontend (outbound to backend, a new
 * connection every 5 requests). `client(sa)` and `credential(sa)` say how each gets its SVID.
 */
export async function sidecarPair({ client, credential, renewAtFraction, renewJitterFraction }) {
  const app = createServer((req, res) => res.end('ok'));
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appAddress = `127.0.0.1:${app.address().port}`;
  const logs = { backend: countingLogger(), frontend: countingLogger() };
  const start = (sa, extra) =>
    Sidecar.start({
      client: client(sa),
      credential: () => credential(sa),
      trustDomain: TD,
      clock: systemClock,
      logger: logs[sa].logger,
      mode: 'STRICT',
      policies: [],
      inbound: { host: '127.0.0.1', port: 0, app: appAddress },
      ...(renewAtFraction === undefined ? {} : { renewAtFraction }),
      ...(renewJitterFraction === undefined ? {} : { renewJitterFraction }),
      ...extra,
    });
  const backend = await start('backend', {
    policies: [{ name: 'frontend-only', action: 'ALLOW', rules: [{ from: [{ principals: [spiffeId('frontend')] }] }] }],
  });
  const frontend = await start('frontend', {
    outbound: {
      host: '127.0.0.1',
      port: 0,
      upstreams: [
        { name: 'backend', address: `127.0.0.1:${backend.inboundAddress.port}`, spiffeId: spiffeId('backend') },
      ],
    },
    maxRequestsPerConnection: 5,
  });
  return {
    backend,
    frontend,
    logs,
    url: `http://127.0.0.1:${frontend.outboundAddress.port}/soak`,
    async stop() {
      await frontend.stop();
      await backend.stop();
      app.closeAllConnections();
      app.close();
    },
  };
}

/** `workers` closed-loop requests to `url` with Host `host` until stop(); failures counted by message. */
export function constantLoad(url, { host, workers = 4 }) {
  const dispatcher = new Agent({ connections: workers });
  const failures = new Map();
  const state = { ok: 0 };
  let running = true;
  const fail = (what) => failures.set(what, (failures.get(what) ?? 0) + 1);
  const worker = async () => {
    while (running) {
      try {
        const res = await request(url, { headers: { host }, dispatcher });
        await res.body.dump();
        if (res.statusCode === 200) state.ok++;
        else fail(`status ${res.statusCode}`);
      } catch (err) {
        fail(err.message);
      }
    }
  };
  const all = Array.from({ length: workers }, worker);
  return {
    get ok() {
      return state.ok;
    },
    get failed() {
      return [...failures.values()].reduce((a, b) => a + b, 0);
    },
    failures,
    async stop() {
      running = false;
      await Promise.all(all);
      await dispatcher.close();
    },
  };
}

/** Polls `condition` every 100 ms; throws after `timeoutMs`. */
export async function until(condition, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
