import { afterAll, describe, expect, it } from 'vitest';
import {
  buildGatewayVerifier,
  verifierCovers,
  type GatewayCredentials,
  type GatewayVerifier,
  type GatewayVerifierInputs,
} from '../../src/app/gateway_verifier.js';
import { configSchema } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';

/**
 * When a gateway reload keeps its running verifier and when it must build another (src/app/gateway_verifier.ts): only
 * the settings of what the new section needs count.
 */
const inputs: GatewayVerifierInputs = {
  issuer: 'https://id.test',
  inProcessApiKeys: false,
  clock: systemClock,
  logger: new MemoryLogger(),
};
const credentials: GatewayCredentials = {
  feedCredential: async () => 'ghk_feed',
  feedFingerprint: 'feed-1',
  apiKeyIntrospection: {
    clientId: 'gw',
    clientSecret: 's1',
    cacheTtlMs: 30_000,
    negativeTtlMs: 5_000,
    maxEntries: 100,
  },
};
const route = (name: string, kind: 'jwt' | 'api_key') => ({
  name,
  pathPrefix: `/${name}/`,
  upstream: 'b',
  auth: { kind, scopes: [] },
});
const section = (routes: unknown[], extra: Record<string, unknown> = {}) =>
  configSchema.parse({
    gateway: {
      jwtAudience: 'https://gw.test',
      upstreams: [{ name: 'b', hosts: ['http://127.0.0.1:9'] }],
      routes,
      ...extra,
    },
  }).gateway;

const both = section([route('orders', 'jwt'), route('keys', 'api_key')]);
const built: GatewayVerifier[] = [];
const build = (s: ReturnType<typeof section>, i = inputs, c = credentials) => {
  const v = buildGatewayVerifier(s, i, c) as GatewayVerifier;
  built.push(v);
  return v;
};
afterAll(async () => {
  await Promise.all(built.map((v) => v.verifier.close()));
});

describe('verifierCovers', () => {
  const running = build(both);

  it('keeps the running verifier for the same section, and for one needing less of the same', () => {
    expect(verifierCovers(running, both, inputs, credentials)).toBe(true);
    expect(verifierCovers(running, section([route('orders', 'jwt')]), inputs, credentials)).toBe(true);
    expect(verifierCovers(running, section([route('keys', 'api_key')]), inputs, credentials)).toBe(true);
    expect(verifierCovers(running, section([]), inputs, credentials)).toBe(true);
    // Only the API-key cache sizes changed and no route needs introspection: the JWT verifier stays.
    const jwtOnly = section([route('orders', 'jwt')], { apiKeys: { cacheTtl: '5s' } });
    expect(verifierCovers(running, jwtOnly, inputs, credentials)).toBe(true);
  });

  it('builds another when a setting of what the section needs changed', () => {
    const changed: Array<[string, boolean]> = [
      ['issuer', verifierCovers(running, both, { ...inputs, issuer: 'https://other.test' }, credentials)],
      ['CA bundle', verifierCovers(running, both, { ...inputs, trustBundlePem: 'PEM' }, credentials)],
      [
        'audience',
        verifierCovers(running, section(both.routes, { jwtAudience: 'https://x.test' }), inputs, credentials),
      ],
      [
        'revocation',
        verifierCovers(running, section(both.routes, { revocation: { interval: '2s' } }), inputs, credentials),
      ],
      ['feed key', verifierCovers(running, both, inputs, { ...credentials, feedFingerprint: 'feed-2' })],
      [
        'introspection secret',
        verifierCovers(running, both, inputs, {
          ...credentials,
          apiKeyIntrospection: { ...credentials.apiKeyIntrospection!, clientSecret: 's2' },
        }),
      ],
    ];
    expect(changed.filter(([, covers]) => covers).map(([what]) => what)).toEqual([]);
  });

  it('builds one for the first JWT route, and for API keys when the running one was built without them', () => {
    expect(verifierCovers(undefined, both, inputs, credentials)).toBe(false);
    const jwtOnly = build(section([route('orders', 'jwt')]));
    expect(verifierCovers(jwtOnly, both, inputs, credentials)).toBe(false);
    // A JWT-only section does not care about the introspection client.
    expect(
      verifierCovers(jwtOnly, section([route('orders', 'jwt')]), inputs, {
        ...credentials,
        apiKeyIntrospection: { ...credentials.apiKeyIntrospection!, clientSecret: 's3' },
      }),
    ).toBe(true);
  });
});
