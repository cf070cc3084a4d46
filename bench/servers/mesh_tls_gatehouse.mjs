// Child process: gatehouse's library-mode mTLS server (createMtlsServer: TLS 1.3, SVID from the CA of the snapshot,
// SPIFFE peer checks on every connection, no policies) answering `ok`. argv[2] = JSON { ca: snapshot, sa }.
// Prints { port } once listening; stops on SIGTERM.
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { IdentitySource, createMtlsServer } from '../../dist/mesh/index.js';
import { openCa, spiffeId, TRUST_DOMAIN } from '../lib/mesh_ca.mjs';

const { ca: snapshot, sa } = JSON.parse(process.argv[2]);
const ca = await openCa(snapshot);
const identity = new IdentitySource({
  client: ca.client,
  credential: () => `join:${spiffeId(sa)}`,
  clock: systemClock,
  logger: silentLogger,
});
await identity.start();
const server = createMtlsServer({
  identity,
  trustDomain: TRUST_DOMAIN,
  logger: silentLogger,
  handler: (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  },
});
const { port } = await server.listen('127.0.0.1', 0);
process.stdout.write(JSON.stringify({ port, pid: process.pid }) + '\n');
process.on('SIGTERM', () => process.exit(0));
