// Child process: one gatehouse sidecar (Sidecar.start, STRICT mTLS, no policies) with its SVID from the CA of the
// snapshot, inbound in front of `app`; with `upstream` ({ name, address, sa }) also the outbound side towards that
// peer. argv[2] = JSON { ca, sa, app, upstream? }. Prints { port, outboundPort } once listening; stops on SIGTERM.
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { Sidecar } from '../../dist/mesh/index.js';
import { openCa, spiffeId, TRUST_DOMAIN } from '../lib/mesh_ca.mjs';

const { ca: snapshot, sa, app, upstream } = JSON.parse(process.argv[2]);
const ca = await openCa(snapshot);
const sidecar = await Sidecar.start({
  client: ca.client,
  credential: () => `join:${spiffeId(sa)}`,
  trustDomain: TRUST_DOMAIN,
  clock: systemClock,
  logger: silentLogger,
  mode: 'STRICT',
  policies: [],
  inbound: { host: '127.0.0.1', port: 0, app },
  ...(upstream
    ? {
        outbound: {
          host: '127.0.0.1',
          port: 0,
          upstreams: [{ name: upstream.name, address: upstream.address, spiffeId: spiffeId(upstream.sa) }],
        },
      }
    : {}),
});
process.stdout.write(
  JSON.stringify({ port: sidecar.inboundAddress.port, outboundPort: sidecar.outboundAddress?.port }) + '\n',
);
process.on('SIGTERM', () => process.exit(0));
