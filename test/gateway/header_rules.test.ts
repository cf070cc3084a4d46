import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { call, rawGet, startBackend, startGateway } from './support.js';

const parse = (headers: unknown) =>
  configSchema.safeParse({
    gateway: {
      upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', headers }],
    },
  });

describe('routes[].headers in the schema', () => {
  it('refuses fields the gateway manages and values that could split a header', () => {
    expect(parse({ request: { set: { 'x-env': 'prod' }, remove: ['cookie'] } }).success).toBe(true);
    expect(parse({ response: { set: { 'x-frame-options': 'DENY' }, remove: ['server'] } }).success).toBe(true);
    const refused: Array<[unknown, string]> = [
      [{ request: { set: { 'X-Forwarded-For': '1.2.3.4' } } }, 'X-Forwarded-*'],
      [{ request: { set: { 'x-gatehouse-sub': 'admin' } } }, 'verified identity'],
      [{ request: { remove: ['x-request-id'] } }, 'managed by the gateway'],
      [{ request: { set: { host: 'evil.example' } } }, 'managed by the gateway'],
      [{ response: { set: { 'access-control-allow-origin': '*' } } }, 'cors policy'],
      [{ response: { remove: ['ratelimit'] } }, 'rate limits'],
      [{ response: { set: { 'strict-transport-security': 'max-age=1' } } }, 'gateway.hsts'],
      [{ request: { set: { 'x-a': 'b\r\nx-injected: 1' } } }, 'no CR, LF, NUL'],
      [{ response: { set: { 'x-a': 'price 5 €' } } }, 'nothing node cannot send'],
      [{ request: { set: { 'x-gatehouse_sub': 'admin' } } }, 'verified identity'], // read as x-gatehouse-sub by CGI
      [{ request: { set: { x_forwarded_for: '1.2.3.4' } } }, 'X-Forwarded-*'],
      [{ response: { set: { te: 'x' } } }, 'managed by the gateway'], // node refuses it on HTTP/2
      [{ response: { set: { 'http2-settings': 'x' } } }, 'managed by the gateway'],
      [{ request: { set: { 'proxy-authorization': 'x' } } }, 'next proxy'],
      [{ request: { set: { 'bad name': 'x' } } }, 'header field name'],
    ];
    for (const [headers, message] of refused) {
      const result = parse(headers);
      expect({ headers, ok: result.success }).toEqual({ headers, ok: false });
      expect(JSON.stringify(result.error?.issues)).toContain(message);
    }
    // The error names the rule.
    const named = parse({ response: { remove: ['server', 'Retry-After'] } });
    expect(named.error?.issues[0]?.path).toEqual(['gateway', 'routes', 0, 'headers', 'response', 'remove', 1]);
  });
});

describe('a route with header rules', () => {
  it('removes then sets fields on the request upstream and on its answer, proxied, cached and for upgrades', async () => {
    const backend = await startBackend((req, res) => {
      req.resume();
      res.writeHead(200, {
        'content-type': 'application/json',
        server: 'legacy/1.0',
        'x-powered-by': 'php',
        'x-frame-options': 'SAMEORIGIN',
        'cache-control': 'public, max-age=60',
      });
      res.end(JSON.stringify({ headers: req.headers }));
    });
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [
        {
          name: 'r',
          pathPrefix: '/',
          upstream: 'u',
          cache: { enabled: true },
          websocket: true,
          headers: {
            request: { set: { 'x-env': 'prod', 'X-Tenant': 'acme' }, remove: ['x-debug', 'Cookie'] },
            response: { set: { 'x-frame-options': 'DENY' }, remove: ['Server', 'x-powered-by'] },
          },
        },
        { name: 'plain', pathPrefix: '/plain', upstream: 'u' },
      ],
    });
    try {
      const sent = { 'x-env': 'dev', 'x-debug': '1', cookie: 'a=b', 'x-kept': 'yes' };
      const first = await call(gw, '/a', { headers: sent });
      const seen = (first.body as { headers: Record<string, string> }).headers;
      expect(seen['x-env']).toBe('prod'); // the client's copy replaced
      expect(seen['x-tenant']).toBe('acme');
      expect(seen['x-debug']).toBeUndefined();
      expect(seen['cookie']).toBeUndefined();
      expect(seen['x-kept']).toBe('yes');
      for (const answer of [first, await call(gw, '/a', { headers: sent })]) {
        expect(answer.headers['server']).toBeUndefined();
        expect(answer.headers['x-powered-by']).toBeUndefined();
        expect(answer.headers['x-frame-options']).toBe('DENY');
      }
      expect((await call(gw, '/a')).headers['x-cache']).toBe('HIT');
      // A WebSocket handshake the upstream answered without 101 gets the same answer rules.
      const upgrade = await rawGet(gw, '/ws', {
        connection: 'upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      });
      expect(upgrade.status).toBe(200);
      expect(upgrade.headers['server']).toBeUndefined();
      expect(upgrade.body.headers['x-tenant']).toBe('acme');
      // Another route: untouched.
      const plain = await call(gw, '/plain/a', { headers: sent });
      expect(plain.headers['server']).toBe('legacy/1.0');
      expect((plain.body as { headers: Record<string, string> }).headers['x-env']).toBe('dev');
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
