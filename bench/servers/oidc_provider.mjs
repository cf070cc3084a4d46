// Child process: node-oidc-provider 8 (the anchor) with the clientCredentials feature and ES256 JWT access tokens
// through resourceIndicators, behind a node:https server (TLS 1.3) calling its callback. Opaque tokens for an
// audience-less request (introspection bench). Prints { port, clientId, secret, audience } once listening.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const { certPem, keyPem } = JSON.parse(process.argv[2]);
const clientId = 'bench';
const secret = randomBytes(32).toString('base64url');
const audience = 'https://orders.test.example';
const jwk = (type, opts, alg) => ({
  ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
  kid: alg,
});
const server = createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.3' });
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`https://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: clientId,
        client_secret: secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: 'orders:read',
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: ['orders:read'],
    jwks: { keys: [jwk('ec', { namedCurve: 'P-256' }, 'ES256'), jwk('rsa', { modulusLength: 2048 }, 'RS256')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== audience) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'orders:read',
            audience,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  server.on('request', provider.callback());
  process.stdout.write(JSON.stringify({ port, clientId, secret, audience }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
