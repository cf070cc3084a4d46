// Child process: the gatehouse identity issuer with people's sign-in, wired as `gatehouse up` wires it (openIdentity on
// a memory store, createHttpsServer: TLS 1.3, the token routes on the raw node:https route, the sign-in pages, the
// device routes and pages), with one user, one API, a public code + PKCE client and a public device client. Default
// configuration (scrypt ln=17 r=8 p=1 with 2 hashes at once, ES256 access tokens, RS256 ID tokens) except the
// operator settings named below. argv[2] = JSON { certPem, keyPem, username, password, redirectUri, audience }.
// Prints { port, pid, codeClientId, deviceClientId } once listening; stops on SIGTERM.
import { silentLogger } from '../../dist/core/index.js';
import {
  createHttpsServer,
  registerIdentityDevicePages,
  registerIdentityPages,
  serveIdentityFormRoutes,
} from '../../dist/http/index.js';
import { openMemoryIdentity, registerTokenRoutes } from '../lib/memory_identity.mjs';

const input = JSON.parse(process.argv[2]);
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// Operator settings for the run: all load comes from 127.0.0.1, so the per-address flood guard (token endpoint and
// device authorization endpoint) is lifted; 10,000 pending device authorizations need maxPending 10,000 (default
// 1,000); the polling interval is the minimum, 1 s, so that the rounds of polls measure capacity rather than the
// interval (10,000 devices at the default 5 s offer 2,000 polls/s); codes live 30 min (default 10) so that the first
// ones are still pending once the last of 10,000 is created on a busy machine. Each of the 1,000 logins starts in a
// fresh cookie jar, i.e. a new anonymous browser session from 127.0.0.1, so that budget is lifted too
// (newSessionsPerAddress). Failed-sign-in budgets stay at their defaults (every sign-in of the run succeeds).
const flood = { rate: 10_000_000, period: '1s', burst: 1_000_000 };
const { config, identity, close } = await openMemoryIdentity({
  limits: { tokenRequestsPerAddress: flood, introspectionRequestsPerAddress: flood },
  device: { interval: 1, maxPending: 10_000, codeTtl: '30m' },
  signIn: { newSessionsPerAddress: flood },
});
await identity.apis.create(input.audience, [{ name: 'orders:read', description: 'See your orders' }]);
await identity.people.users.create({ username: input.username, password: input.password, roles: ['viewer'] });
const { client: codeClient } = await identity.clients.create({
  name: 'Bench Web App',
  public: true,
  grantTypes: ['authorization_code'],
  scopes: ['orders:read'],
  redirectUris: [input.redirectUri],
});
const { client: deviceClient } = await identity.clients.create({
  name: 'Bench TV',
  public: true,
  grantTypes: [DEVICE_GRANT],
  scopes: ['orders:read'],
});
const server = createHttpsServer({
  name: 'identity',
  http: config.http,
  certPem: input.certPem,
  keyPem: input.keyPem,
  logger: silentLogger,
});
const maxBodyBytes = config.identity.limits.maxBodyBytes;
registerTokenRoutes(server.app, identity, config, {
  corsOrigins: (origin) => identity.corsOrigins.allows(origin),
  userinfo: identity.userinfo,
});
serveIdentityFormRoutes(server.app, { token: identity.token, maxBodyBytes, hstsMaxAgeMs: config.http.hstsMaxAge });
registerIdentityPages(server.app, {
  flow: identity.people.flow,
  sessions: identity.people.sessions,
  apps: identity.people.apps,
  clients: identity.clients.cache,
  logger: silentLogger,
  maxBodyBytes,
  endSession: identity.endSession,
});
registerIdentityDevicePages(server.app, {
  ...identity.people.device,
  flow: identity.people.flow,
  sessions: identity.people.sessions,
  logger: silentLogger,
  maxBodyBytes,
});
const { port } = await server.listen('127.0.0.1', 0);
identity.setBoundPort(port);
process.stdout.write(
  JSON.stringify({
    port,
    pid: process.pid,
    issuer: identity.issuer(),
    codeClientId: codeClient.clientId,
    deviceClientId: deviceClient.clientId,
  }) + '\n',
);
process.on('SIGTERM', async () => {
  await server.close();
  await close();
  process.exit(0);
});
