// Child process: the gatehouse identity issuer exactly as `gatehouse up` wires it (openIdentity on a memory store,
// createHttpsServer: TLS 1.3, registerIdentityRoutes), with one API and one client_credentials client. Prints
// { port, clientId, secret, audience } once listening; stops on SIGTERM.
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { openIdentity } from '../../dist/app/identity_server.js';
import { loadConfig } from '../../dist/config/index.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import {
  createHttpsServer,
  registerIdentityRevocationRoutes,
  registerIdentityRoutes,
  serveIdentityFormRoutes,
} from '../../dist/http/index.js';
import { MemoryLimiterStore } from '../../dist/ratelimit/index.js';

// `fastify: true` serves the token, introspection and revocation endpoints through fastify (the ADR 0001 comparison)
// instead of the raw node:https routes.
const { certPem, keyPem, fastify } = JSON.parse(process.argv[2]);
const vault = new Map();
const secrets = {
  putSecret: async (name, value) => void vault.set(name, Buffer.from(value)),
  getSecret: async (name) => vault.get(name),
  deleteSecret: async (name) => void vault.delete(name),
};
// Every request of the benchmark comes from 127.0.0.1: lift the per-address flood guard (an operator setting) so that
// it does not answer 429 to the load generator. Everything else is the default configuration.
const flood = { rate: 10_000_000, period: '1s', burst: 1_000_000 };
const config = loadConfig({
  overrides: {
    identity: {
      issuer: 'https://127.0.0.1',
      signing: { alg: 'ES256' },
      limits: { tokenRequestsPerAddress: flood, introspectionRequestsPerAddress: flood },
    },
  },
});
const clock = systemClock;
const records = new MemoryRecordStore({ clock });
const limiter = new MemoryLimiterStore({ clock, maxKeys: 10_000 });
const identity = await openIdentity({ config, records, vault: secrets, limiter, clock, logger: silentLogger });
const audience = 'https://orders.test.example';
await identity.apis.create(audience, [{ name: 'orders:read', description: 'read orders' }]);
const { client, secret } = await identity.clients.create({
  name: 'bench',
  grantTypes: ['client_credentials'],
  scopes: ['orders:read'],
});
const server = createHttpsServer({ name: 'identity', http: config.http, certPem, keyPem, logger: silentLogger });
registerIdentityRoutes(server.app, {
  token: identity.token,
  metadata: () => identity.metadata(),
  jwksJson: () => identity.signingKeys.jwksJson(),
  jwksMaxAgeSeconds: () => identity.signingKeys.jwksMaxAgeSeconds(),
  maxBodyBytes: config.identity.limits.maxBodyBytes,
});
registerIdentityRevocationRoutes(server.app, {
  introspection: identity.introspection,
  revocation: identity.revocation,
  feed: identity.revocationFeed,
  maxBodyBytes: config.identity.limits.maxBodyBytes,
});
if (!fastify) {
  serveIdentityFormRoutes(server.app, {
    token: identity.token,
    introspection: identity.introspection,
    revocation: identity.revocation,
    maxBodyBytes: config.identity.limits.maxBodyBytes,
    hstsMaxAgeMs: config.http.hstsMaxAge,
  });
}
const { port } = await server.listen('127.0.0.1', 0);
identity.setBoundPort(port);
process.stdout.write(JSON.stringify({ port, clientId: client.clientId, secret, audience }) + '\n');
process.on('SIGTERM', async () => {
  await server.close();
  identity.close();
  await limiter.close();
  process.exit(0);
});
