// Child process: the gatehouse gateway as `gatehouse gateway` wires it (Gateway + createGatewayServer: node:https,
// TLS 1.3 only), one route `/` with `auth: jwt` (the resource-server verifier on static keys, verified-token cache on)
// and one local limit per client, proxying to the backend. Input { certPem, keyPem, backend, limit?, plain? } where
// limit is { rate, per, burst } (default: high enough never to reject) and plain: true makes the route public with no
// limit (the gateway's own cost without auth); http2: true offers HTTP/2 (gateway.http2.enabled); grpc: true makes
// `backend` an h2c upstream (protocol: h2c) and admits application/grpc bodies (HTTP/2 on). Prints { port, token }: a token the route admits,
// signed with src/crypto signJwt. Stops on SIGTERM.
import { verifiedJwt } from '../../dist/app/gateway_authenticator.js';
import { loadConfig } from '../../dist/config/index.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { generateSigningKey, publicJwk, signJwt } from '../../dist/crypto/index.js';
import { Gateway, createGatewayServer } from '../../dist/gateway/index.js';
import { createVerifier } from '../../dist/resource/index.js';

const { certPem, keyPem, backend, limit, plain, http2, grpc } = JSON.parse(process.argv[2]);
const ISSUER = 'https://id.bench.example';
const AUDIENCE = 'gateway';
const config = loadConfig({
  overrides: {
    gateway: {
      jwtAudience: AUDIENCE,
      http2: { enabled: http2 === true || grpc === true },
      upstreams: [{ name: 'backend', hosts: [backend], ...(grpc ? { protocol: 'h2c' } : {}) }],
      routes: [
        {
          name: 'bench',
          pathPrefix: '/',
          upstream: 'backend',
          auth: plain ? { kind: 'none' } : { kind: 'jwt', scopes: ['orders:read'] },
          ...(grpc ? { waf: { contentTypes: ['application/grpc'] } } : {}),
          limits: plain
            ? []
            : [
                {
                  name: 'per-client',
                  key: ['client'],
                  rate: limit?.rate ?? 10_000_000,
                  per: limit?.per ?? '1s',
                  burst: limit?.burst ?? 1_000_000,
                },
              ],
        },
      ],
    },
  },
});
const key = generateSigningKey('ES256', 'bench-gateway');
const verifier = createVerifier({
  issuer: ISSUER,
  audience: AUDIENCE,
  jwks: { keys: [publicJwk(key)] },
  revocation: { mode: 'off' },
  clock: systemClock,
  logger: silentLogger,
});
await verifier.start();
// The JWT half of the production wiring (src/app/gateway_authenticator.ts): cached tokens answered without a promise.
const authenticator = { authenticate: (headers) => verifiedJwt(verifier, headers) };
const gateway = new Gateway({
  config: config.gateway,
  clock: systemClock,
  logger: silentLogger,
  authenticator,
  bodyLimit: config.http.bodyLimit,
});
const server = createGatewayServer({
  gateway,
  http: config.http,
  slowClients: config.gateway.slowClients,
  http2: config.gateway.http2,
  certPem,
  keyPem,
  logger: silentLogger,
});
const { port } = await server.listen('127.0.0.1', 0);
const now = Math.floor(Date.now() / 1000);
const token = signJwt(
  { typ: 'at+jwt' },
  {
    iss: ISSUER,
    sub: 'bench-client',
    aud: AUDIENCE,
    exp: now + 3600,
    iat: now,
    jti: 'bench-token-1',
    client_id: 'bench-client',
    scope: 'orders:read',
  },
  key,
);
process.stdout.write(JSON.stringify({ port, token }) + '\n');
process.on('SIGTERM', async () => {
  await server.close();
  await verifier.close();
  process.exit(0);
});
