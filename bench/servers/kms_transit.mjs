// Child process: the KMS transit API as `gatehouse up` serves it (createHttpsServer: TLS 1.3, registerKmsRoutes over
// kmsOperations) on a memory store with one key `orders`; the authorizer admits every caller (the bench measures the
// data path, not authorization). Prints { port } once listening; stops on SIGTERM.
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { kmsOperations } from '../../dist/app/kms_operations.js';
import { loadConfig } from '../../dist/config/index.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { createHttpsServer, registerKmsRoutes } from '../../dist/http/index.js';
import { Envelopes, Keyring, RootKey } from '../../dist/kms/index.js';

const { certPem, keyPem } = JSON.parse(process.argv[2]);
const clock = systemClock;
const store = new MemoryRecordStore({ clock });
const keyring = await Keyring.open({ store, root: RootKey.generate(), clock, logger: silentLogger });
await keyring.createKey('orders', {});
const envelopes = new Envelopes({ keys: keyring, clock });
const config = loadConfig({});
const server = createHttpsServer({ name: 'kms', http: config.http, certPem, keyPem, logger: silentLogger });
registerKmsRoutes(server.app, {
  ops: kmsOperations({ keyring, clock }, envelopes),
  authorizer: { authorize: async () => ({ principal: 'bench' }) },
  logger: silentLogger,
  maxBatchItems: 1000,
});
const { port } = await server.listen('127.0.0.1', 0);
process.stdout.write(JSON.stringify({ port }) + '\n');
process.on('SIGTERM', async () => {
  await server.close();
  process.exit(0);
});
