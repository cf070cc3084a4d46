// Child process: the gatehouse identity issuer exactly as `gatehouse up` wires it (openIdentity on a memory store,
// createHttpsServer: TLS 1.3, registerIdentityRoutes), with one API and one client_credentials client. Prints
// { port, clientId, secret, audience } once listening; stops on SIGTERM.
import { silentLogger } from '../../dist/core/index.js';
import { createHttpsServer, registerIdentityRevocationRoutes, serveIdentityFormRoutes } from '../../dist/http/index.js';
import { openMemoryIdentity, registerTokenRoutes } from '../lib/memory_identity.mjs';

// `fastify: true` serves the token, introspection and revocation endpoints through fastify (the ADR 0001 comparison)
// instead of the raw node:https routes.
const { certPem, keyPem, fastify } = JSON.parse(process.argv[2]);
// Every request of the benchmark comes from 127.0.0.1: lift the per-address flood guard (an operator setting) so that
// it does not answer 429 to the load generator. Everything else is the default configuration.
const flood = { rate: 10_000_000, period: '1s', burst: 1_000_000 };
const { config, identity, close } = await openMemoryIdentity(
  {
    issuer: 'https://127.0.0.1',
    signing: { alg: 'ES256' },
    limits: { tokenRequestsPerAddress: flood, introspectionRequestsPerAddress: flood },
  },
  10_000,
);
const audience = 'https://orders.test.example';
await identity.apis.create(audience, [{ name: 'orders:read', description: 'read orders' }]);
const { client, secret } = await identity.clients.create({
  name: 'bench',
  grantTypes: ['client_credentials'],
  scopes: ['orders:read'],
});
const server = createHttpsServer({ name: 'identity', http: config.http, certPem, keyPem, logger: silentLogger });
registerTokenRoutes(server.app, identity, config);
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
  await close();
  process.exit(0);
});
