import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { generateSigningKey } from '../../src/crypto/index.js';
import {
  createVerifier,
  expressVerifier,
  fastifyVerifier,
  nodeHttpVerifier,
  type ExpressLikeRequest,
  type Principal,
} from '../../src/resource/index.js';
import { AUDIENCE, ISSUER, jwksOf, mint } from './helpers.js';

const key = generateSigningKey('ES256', 'k1');
const clock = new ManualClock(Date.parse('2026-06-01T00:00:00Z'));
const now = Math.floor(clock.now() / 1000);
const verifier = createVerifier({
  issuer: ISSUER,
  audience: AUDIENCE,
  jwks: { keys: jwksOf(key) },
  revocation: { mode: 'off' },
  clock,
});
const reader = mint(key, now, { scope: 'orders:read', roles: [] });
const clerk = mint(key, now, { scope: 'orders:read orders:write', roles: ['clerk'] });

interface Outcome {
  status: number;
  auth: string | undefined;
  body: string;
}

/** The expected outcome of each request against a route requiring allOf orders:write and role clerk. */
const CASES: Array<[string, Record<string, string>, number, RegExp | undefined]> = [
  ['no credentials', {}, 401, /^Bearer realm="orders"$/],
  ['malformed header', { authorization: 'Bearer a b' }, 400, /error="invalid_request"/],
  ['bad token', { authorization: 'Bearer x.y.z' }, 401, /error="invalid_token"/],
  [
    'missing scope',
    { authorization: `Bearer ${reader}` },
    403,
    /error="insufficient_scope", error_description="[^"]+", scope="orders:write orders:read"$/,
  ],
  ['authorized', { authorization: `Bearer ${clerk}` }, 200, undefined],
];
const REQUIREMENT = { allOf: ['orders:write'], anyOf: ['orders:read'], roles: ['clerk'] };

function check(outcome: Outcome, status: number, auth: RegExp | undefined): void {
  expect(outcome.status).toBe(status);
  if (auth === undefined) {
    expect(outcome.auth).toBeUndefined();
    expect(outcome.body).toBe('alice');
  } else {
    expect(outcome.auth).toMatch(auth);
    expect(JSON.parse(outcome.body)).toMatchObject({ status, code: expect.stringMatching(/^ERR_/) });
  }
}

describe('fastify plugin', () => {
  const app = Fastify();
  const auth = fastifyVerifier(verifier);
  beforeAll(async () => {
    await app.register(auth);
    app.get('/pre', { preHandler: auth.authorize(REQUIREMENT) }, async (req) => (req.principal as Principal).sub);
    app.get('/cfg', { config: { auth: REQUIREMENT } }, async (req) => (req.principal as Principal).sub);
    app.get('/open', async (req) => String(req.principal));
    await app.ready();
  });
  afterAll(() => app.close());

  for (const path of ['/pre', '/cfg']) {
    for (const [name, headers, status, authHeader] of CASES) {
      it(`${path}: ${name} → ${status}`, async () => {
        const res = await app.inject({ method: 'GET', url: path, headers });
        const www = res.headers['www-authenticate'];
        check(
          { status: res.statusCode, auth: typeof www === 'string' ? www : undefined, body: res.body },
          status,
          authHeader,
        );
      });
    }
  }
  it('a valid token in the query string is no credential (OAuth 2.1: no bearer tokens in URLs)', async () => {
    const res = await app.inject({ method: 'GET', url: `/cfg?access_token=${clerk}` });
    expect([res.statusCode, res.headers['www-authenticate']]).toEqual([401, 'Bearer realm="orders"']);
  });
  it('routes without a requirement are untouched and see principal null', async () => {
    const res = await app.inject({ method: 'GET', url: '/open' });
    expect([res.statusCode, res.body]).toEqual([200, 'null']);
  });
});

describe('express-shaped middleware', () => {
  const middleware = expressVerifier(verifier, REQUIREMENT);
  async function run(headers: IncomingHttpHeaders): Promise<Outcome> {
    const req: ExpressLikeRequest = { headers };
    const headersOut: Record<string, string> = {};
    return new Promise((resolve) => {
      const res = {
        statusCode: 200,
        setHeader(name: string, value: string) {
          headersOut[name.toLowerCase()] = value;
          return this;
        },
        end(body?: string) {
          resolve({ status: res.statusCode, auth: headersOut['www-authenticate'], body: body ?? '' });
          return this;
        },
      };
      middleware(req, res as never, (err?: unknown) => {
        expect(err).toBeUndefined();
        resolve({ status: 200, auth: undefined, body: req.principal?.sub ?? '' });
      });
    });
  }
  for (const [name, headers, status, authHeader] of CASES) {
    it(`${name} → ${status}`, async () => {
      check(await run(headers), status, authHeader);
    });
  }

  it('hands a failure to answer to next(err) instead of leaving an unhandled rejection (which ends the process)', async () => {
    const broken = new Error('socket gone');
    const res = {
      statusCode: 200,
      setHeader() {
        throw broken;
      },
      end() {
        return this;
      },
    };
    const passed = await new Promise<unknown>((resolve) => middleware({ headers: {} }, res as never, resolve));
    expect(passed).toBe(broken);
  });
});

describe('node:http wrapper', () => {
  const server = createServer(
    nodeHttpVerifier(verifier, REQUIREMENT, (_req, res, principal) => res.end(principal.sub)),
  );
  let port = 0;
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (headers: Record<string, string>): Promise<Outcome> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const www = res.headers['www-authenticate'];
          resolve({ status: res.statusCode ?? 0, auth: typeof www === 'string' ? www : undefined, body });
        });
      });
      req.once('error', reject);
      req.end();
    });
  for (const [name, headers, status, authHeader] of CASES) {
    it(`${name} → ${status}`, async () => {
      check(await get(headers), status, authHeader);
    });
  }
});
