// Issue 3 benchmark: the transit API over HTTPS (TLS 1.3, keep-alive) with batch_input of 100 records of 1 KiB,
// against the in-process Envelopes.encrypt of the same 100 records. One operation = 100 records on both sides.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { compare } from '../lib/measure.mjs';
import { selfSigned } from '../lib/tls.mjs';
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { Envelopes, Keyring, RootKey } from '../../dist/kms/index.js';
import { ManualClock, silentLogger } from '../../dist/core/index.js';
import { loadConfig } from '../../dist/config/index.js';
import { createHttpsServer, registerKmsRoutes } from '../../dist/http/index.js';
import { kmsOperations } from '../../dist/app/kms_operations.js';

export async function run() {
  const clock = new ManualClock(Date.now());
  const store = new MemoryRecordStore({ clock });
  const keyring = await Keyring.open({ store, root: RootKey.generate(), clock, logger: silentLogger });
  await keyring.createKey('orders', {});
  const envelopes = new Envelopes({ keys: keyring, clock });
  const records = Array.from({ length: 100 }, () => randomBytes(1024));
  const context = { tenant: 'acme' };

  const config = loadConfig({});
  const { certPem, keyPem } = selfSigned();
  const server = createHttpsServer({ name: 'kms', http: config.http, certPem, keyPem, logger: silentLogger });
  registerKmsRoutes(server.app, {
    ops: kmsOperations({ keyring, clock }, envelopes),
    authorizer: { authorize: async () => ({ principal: 'bench' }) },
    logger: silentLogger,
    maxBatchItems: 1000,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  const agent = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
  const body = JSON.stringify({
    batch_input: records.map((r) => ({ plaintext: r.toString('base64'), context })),
  });
  try {
    const results = await compare({
      name: 'transit HTTPS encrypt, batch_input of 100 × 1 KiB',
      subject: async () => {
        const res = await request(`https://127.0.0.1:${port}/v1/transit/encrypt/orders`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
          body,
        });
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        await res.body.json();
      },
      anchors: {
        'in-process Envelopes.encrypt of the same 100 records': async () => {
          for (const r of records) await envelopes.encrypt('orders', r, context);
        },
      },
      rounds: 5,
    });
    return [{ bench: 'HTTP encrypt with batch_input of 100 × 1 KiB', target: '≥ 0.5× in-process', need: 0.5, results }];
  } finally {
    await agent.close();
    await server.close();
  }
}
