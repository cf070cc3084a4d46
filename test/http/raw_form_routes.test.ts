import { request as httpRequest } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerIdentityRoutes, serveIdentityFormRoutes } from '../../src/http/index.js';
import type { TokenEndpoint, TokenHttpRequest } from '../../src/identity/index.js';

/** A token endpoint that echoes what the HTTP layer handed it (or fails when asked to). */
function echoEndpoint(seen: TokenHttpRequest[], name = 'token'): TokenEndpoint {
  return {
    async handle(request: TokenHttpRequest) {
      seen.push(name === 'token' ? request : { ...request, body: `${name}:${request.body}` });
      if (request.body === 'explode') throw new Error('boom');
      return {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' },
        body: JSON.stringify({ access_token: 'at', echoed: request.body }),
      };
    },
  } as unknown as TokenEndpoint;
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(seen: TokenHttpRequest[], raw = true): Promise<number> {
  app = Fastify({ logger: false });
  registerIdentityRoutes(app, {
    token: echoEndpoint(seen),
    metadata: () => ({ issuer: 'https://id.test.example' }),
    jwksJson: () => '{"keys":[]}',
    jwksMaxAgeSeconds: () => 60,
    maxBodyBytes: 256,
  });
  if (raw) {
    serveIdentityFormRoutes(app, {
      token: echoEndpoint(seen),
      introspection: echoEndpoint(seen, 'introspection'),
      revocation: echoEndpoint(seen, 'revocation'),
      maxBodyBytes: 256,
      hstsMaxAgeMs: 86_400_000,
    });
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function post(
  port: number,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('token, introspection and revocation on the raw node:https route (ADR 0001)', () => {
  it('routes each POST path to its own endpoint, and a GET on them to fastify', async () => {
    const seen: TokenHttpRequest[] = [];
    const port = await start(seen);
    for (const path of ['/oauth2/introspect', '/oauth2/revoke', '/oauth2/token']) {
      const res = await post(port, path, 'token=x', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status).toBe(200);
      expect(res.headers['strict-transport-security']).toBe('max-age=86400; includeSubDomains');
    }
    expect(seen.map((s) => s.body)).toEqual(['introspection:token=x', 'revocation:token=x', 'token=x']);
    const get = await fetch(`http://127.0.0.1:${port}/oauth2/introspect`);
    expect(get.status).toBe(404);
    expect(seen).toHaveLength(3);
  });

  it('hands the raw form, authorization, content type and peer address to the endpoint and adds the listener headers', async () => {
    const seen: TokenHttpRequest[] = [];
    const port = await start(seen);
    const res = await post(port, '/oauth2/token', 'grant_type=client_credentials', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic YTpi',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ access_token: 'at', echoed: 'grant_type=client_credentials' });
    expect(res.headers['strict-transport-security']).toBe('max-age=86400; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(seen).toEqual([
      {
        contentType: 'application/x-www-form-urlencoded',
        body: 'grant_type=client_credentials',
        authorization: 'Basic YTpi',
        address: '127.0.0.1',
      },
    ]);
  });

  it('refuses a body over maxBodyBytes with invalid_request and closes the connection, without calling the endpoint', async () => {
    const seen: TokenHttpRequest[] = [];
    const port = await start(seen);
    const res = await post(port, '/oauth2/token', 'a'.repeat(257), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_request', error_description: 'request body too large' });
    expect(res.headers.connection).toBe('close');
    expect(seen).toHaveLength(0);
  });

  it('refuses an oversized chunked body (no content-length) the same way', async () => {
    const seen: TokenHttpRequest[] = [];
    const port = await start(seen);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/oauth2/token', method: 'POST', headers: { 'transfer-encoding': 'chunked' } },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.write('a'.repeat(200));
      req.end('b'.repeat(200));
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe('invalid_request');
    expect(seen).toHaveLength(0);
  });

  it('answers server_error (500, no detail) when the endpoint throws', async () => {
    const port = await start([]);
    const res = await post(port, '/oauth2/token', 'explode');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'server_error' });
  });

  it('leaves every other request to fastify (JWKS, a query string on the token path)', async () => {
    const seen: TokenHttpRequest[] = [];
    const port = await start(seen);
    const jwks = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(await jwks.json()).toEqual({ keys: [] });
    const viaFastify = await post(port, '/oauth2/token?x=1', 'grant_type=client_credentials', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(viaFastify.status).toBe(200);
    expect(viaFastify.headers['strict-transport-security']).toBeUndefined();
    expect(seen.map((s) => s.body)).toEqual(['grant_type=client_credentials']);
  });

  it('keeps the fastify route when the raw route is off', async () => {
    const seen: TokenHttpRequest[] = [];
    const port = await start(seen, false);
    const res = await post(port, '/oauth2/token', 'grant_type=client_credentials');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(seen).toHaveLength(1);
  });
});
