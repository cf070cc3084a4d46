// Issue 3 benchmark: the transit API over HTTPS (TLS 1.3, keep-alive) with batch_input of 100 records of 1 KiB,
// against the in-process Envelopes.encrypt of the same 100 records. One operation = 100 records on both sides.
// As in the other HTTP suites, the server runs in its own process and the load generator (autocannon) in another, so
// the server has a core as the in-process anchor does; the HTTP and in-process rounds alternate. A second table keeps
// the older setup (undici client in the same process as the server, one request at a time) for reference.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { compare } from '../lib/measure.mjs';
import { load, startServer } from '../lib/http_load.mjs';
import { selfSigned } from '../lib/tls.mjs';
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { Envelopes, Keyring, RootKey } from '../../dist/kms/index.js';
import { ManualClock, silentLogger } from '../../dist/core/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = 5;
const SECONDS = 5;
const CONNECTIONS = 4;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Batches of 100 encrypted in process for `ms`; returns batches/s. */
async function inProcessRound(encryptBatch, ms) {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    await encryptBatch();
    n += 1;
  }
  return (n * 1000) / (performance.now() - start);
}

export async function run() {
  const clock = new ManualClock(Date.now());
  const store = new MemoryRecordStore({ clock });
  const keyring = await Keyring.open({ store, root: RootKey.generate(), clock, logger: silentLogger });
  await keyring.createKey('orders', {});
  const envelopes = new Envelopes({ keys: keyring, clock });
  const records = Array.from({ length: 100 }, () => randomBytes(1024));
  const context = { tenant: 'acme' };
  const encryptBatch = async () => {
    for (const r of records) await envelopes.encrypt('orders', r, context);
  };
  const body = JSON.stringify({ batch_input: records.map((r) => ({ plaintext: r.toString('base64'), context })) });
  const { certPem, keyPem } = selfSigned();
  const server = await startServer(join(here, '..', 'servers', 'kms_transit.mjs'), { certPem, keyPem });
  const target = {
    url: `https://127.0.0.1:${server.port}/v1/transit/encrypt/orders`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    body,
  };
  const names = {
    http: `transit HTTPS encrypt, batch_input of 100 × 1 KiB (server process, autocannon ${CONNECTIONS} connections)`,
    local: 'in-process Envelopes.encrypt of the same 100 records',
  };
  const rows = [];
  try {
    await load(target, { connections: CONNECTIONS, seconds: 2 });
    await inProcessRound(encryptBatch, 1000);
    const http = [];
    const local = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['http', 'local'] : ['local', 'http'];
      for (const which of order) {
        if (which === 'local') {
          local.push(await inProcessRound(encryptBatch, SECONDS * 1000));
          continue;
        }
        const res = await load(target, { connections: CONNECTIONS, seconds: SECONDS });
        if (res.non2xx > 0 || res.errors > 0 || res.ok === 0) {
          throw new Error(`transit: ${res.non2xx} non-2xx, ${res.errors} errors, ${res.ok} ok in a round`);
        }
        http.push(res.okPerSec);
      }
      console.error(`    round ${r + 1}: HTTP ${http.at(-1).toFixed(0)}/s, in process ${local.at(-1).toFixed(0)}/s`);
    }
    const ratio = median(http) / median(local);
    rows.push({
      bench: 'HTTP encrypt with batch_input of 100 × 1 KiB',
      target: '≥ 0.5× in-process',
      need: 0.5,
      results: [
        { name: names.http, opsPerSec: median(http), ratio: 1 },
        { name: names.local, opsPerSec: median(local), ratio },
      ],
      note:
        `Setup: the transit server in its own process (memory store, key \`orders\`), autocannon in another with ` +
        `${CONNECTIONS} keep-alive connections posting the same 100-record batch; the in-process anchor encrypts the ` +
        `same 100 records with Envelopes.encrypt in the bench process. ${ROUNDS} alternating rounds of ${SECONDS} s, ` +
        'medians; one operation = one batch of 100 on both sides.',
    });
  } finally {
    await server.stop();
  }
  rows.push(await sameProcessRow(envelopes, encryptBatch, body, certPem, keyPem));
  return rows;
}

/** The older setup, kept for reference: an undici client and the server in one process, one request at a time. */
async function sameProcessRow(envelopes, encryptBatch, body, certPem, keyPem) {
  const server = await startServer(join(here, '..', 'servers', 'kms_transit.mjs'), { certPem, keyPem });
  const agent = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
  try {
    const results = await compare({
      name: 'transit HTTPS encrypt, batch_input of 100 × 1 KiB (one undici request at a time)',
      subject: async () => {
        const res = await request(`https://127.0.0.1:${server.port}/v1/transit/encrypt/orders`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
          body,
        });
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        await res.body.json();
      },
      anchors: { 'in-process Envelopes.encrypt of the same 100 records': encryptBatch },
      rounds: ROUNDS,
    });
    return {
      bench: 'HTTP encrypt with batch_input of 100 × 1 KiB, sequential client (informational)',
      target: 'none; latency-bound reference',
      need: 0,
      results,
      note:
        'Setup: the same server process, an undici client in the bench process sending one batch at a time and ' +
        'parsing each answer, alternating with the in-process anchor, medians. Each batch waits ' +
        'for the previous answer, so this row measures one batch end to end, not the server throughput.',
    };
  } finally {
    await agent.close();
    await server.stop();
  }
}
