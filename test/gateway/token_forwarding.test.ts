import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { call, gatewayConfig, startBackend, startGateway, tableAuthenticator, type RunningGateway } from './support.js';

const auth = tableAuthenticator({ t1: { sub: 'alice', clientId: 'web', scopes: ['read'] } });

function section(backendUrl: string, forwardToken: boolean | undefined) {
  return {
    upstreams: [{ name: 'u', hosts: [backendUrl] }],
    routes: [
      {
        name: 'relay',
        pathPrefix: '/relay/',
        upstream: 'u',
        auth: { kind: 'jwt' as const, scopes: ['read'], ...(forwardToken === undefined ? {} : { forwardToken }) },
      },
      { name: 'open', pathPrefix: '/', upstream: 'u' },
    ],
  };
}

describe('bearer tokens on jwt routes (auth.forwardToken)', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const logger = new MemoryLogger();

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startGateway(section(backend.url, undefined), { authenticator: auth, logger });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('removes Authorization by default and sends the verified identity instead, with nothing logged', async () => {
    const res = await call(gw, '/relay/orders', { headers: { authorization: 'Bearer t1' } });
    expect(res.status).toBe(200);
    expect(res.body.headers['authorization']).toBeUndefined();
    expect(res.body.headers['x-gatehouse-sub']).toBe('alice');
    expect(res.body.headers['x-gatehouse-client-id']).toBe('web');
    expect(logger.lines.filter((l) => l['event'] === 'gateway_token_forwarded')).toHaveLength(0);
  });

  it('leaves Authorization alone on routes that do not authenticate', async () => {
    const res = await call(gw, '/other', { headers: { authorization: 'Basic dTpw' } });
    expect(res.status).toBe(200);
    expect(res.body.headers['authorization']).toBe('Basic dTpw');
  });

  it('refuses forwardToken on a route that is not a jwt route', () => {
    const gateway = {
      upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
      routes: [{ name: 'k', pathPrefix: '/', upstream: 'u', auth: { kind: 'api_key' as const, forwardToken: true } }],
    };
    expect(() => configSchema.parse({ gateway })).toThrow(/forwardToken applies to `jwt` routes only/);
  });

  it('forwards it when the route opts in, and says so in the log at start and at each reload', async () => {
    const opted = new MemoryLogger();
    const relay = await startGateway(section(backend.url, true), { authenticator: auth, logger: opted });
    try {
      const res = await call(relay, '/relay/orders', { headers: { authorization: 'Bearer t1' } });
      expect(res.status).toBe(200);
      expect(res.body.headers['authorization']).toBe('Bearer t1');
      expect(res.body.headers['x-gatehouse-sub']).toBe('alice');
      const warned = () => opted.lines.filter((l) => l['event'] === 'gateway_token_forwarded' && l.level === 'warn');
      expect(warned()).toHaveLength(1);
      expect(warned()[0]!['routes']).toEqual(['relay']);
      // Turned off by a reload: removed again, and no new warning.
      relay.gateway.reload(gatewayConfig(section(backend.url, false)));
      const after = await call(relay, '/relay/orders', { headers: { authorization: 'Bearer t1' } });
      expect(after.body.headers['authorization']).toBeUndefined();
      expect(warned()).toHaveLength(1);
      relay.gateway.reload(gatewayConfig(section(backend.url, true)));
      expect(warned()).toHaveLength(2);
    } finally {
      await relay.close();
    }
  });
});
