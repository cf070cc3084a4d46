import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { publicJwk, signJwt, type SigningKey } from '../../src/crypto/index.js';
import { testCertificate } from '../support/test_tls.js';

/** A throwaway self-signed P-256 certificate for localhost / 127.0.0.1 (see test/support/test_tls.ts). */
export function selfSignedTls(): { cert: string; key: string } {
  const { certPem, keyPem } = testCertificate();
  return { cert: certPem, key: keyPem };
}

export interface RevocationItem {
  jti?: string;
  key_id?: string;
  exp: number;
}

/** A fake issuer over HTTPS: JWKS, revocation feed and RFC 7662 introspection, with counters. */
export interface FakeIssuer {
  url: string;
  ca: string;
  jwks: unknown[];
  jwksCacheControl: string | undefined;
  revocations: RevocationItem[];
  /** token → introspection answer (absent → `{active:false}`). */
  active: Map<string, Record<string, unknown>>;
  feedToken: string;
  introspectionClient: { clientId: string; clientSecret: string };
  counts: { jwks: number; revocations: number; introspect: number; unauthorized: number };
  /** While true every endpoint answers 503 (the issuer is down). */
  down: boolean;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString('utf8');
  return text;
}

export async function startFakeIssuer(tls = selfSignedTls()): Promise<FakeIssuer> {
  const issuer: Omit<FakeIssuer, 'url' | 'close'> & { url: string; close: () => Promise<void> } = {
    url: '',
    ca: tls.cert,
    jwks: [],
    jwksCacheControl: undefined,
    revocations: [],
    active: new Map(),
    feedToken: `feed-${randomUUID()}`,
    introspectionClient: { clientId: 'orders-api', clientSecret: `s-${randomUUID()}` },
    counts: { jwks: 0, revocations: 0, introspect: 0, unauthorized: 0 },
    down: false,
    close: async () => {},
  };
  const server: Server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://localhost');
      if (issuer.down) return send(res, 503, { error: 'down' });
      if (url.pathname === '/jwks') {
        issuer.counts.jwks += 1;
        const headers: Record<string, string> = {};
        if (issuer.jwksCacheControl !== undefined) headers['cache-control'] = issuer.jwksCacheControl;
        return send(res, 200, { keys: issuer.jwks }, headers);
      }
      if (url.pathname === '/revocations') {
        issuer.counts.revocations += 1;
        if (req.headers.authorization !== `Bearer ${issuer.feedToken}`) {
          issuer.counts.unauthorized += 1;
          return send(res, 401, { error: 'unauthorized' });
        }
        const since = Number(url.searchParams.get('since') ?? '0');
        return send(res, 200, { items: issuer.revocations.slice(since), cursor: String(issuer.revocations.length) });
      }
      if (url.pathname === '/introspect' && req.method === 'POST') {
        issuer.counts.introspect += 1;
        const { clientId, clientSecret } = issuer.introspectionClient;
        const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        const body = new URLSearchParams(await readBody(req));
        if (req.headers.authorization !== expected) return send(res, 401, { error: 'invalid_client' });
        const answer = issuer.active.get(body.get('token') ?? '');
        return send(res, 200, answer === undefined ? { active: false } : { active: true, ...answer });
      }
      send(res, 404, {});
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  issuer.url = `https://localhost:${(server.address() as AddressInfo).port}`;
  issuer.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return issuer as FakeIssuer;
}

export const ISSUER = 'https://id.example.test';
export const AUDIENCE = 'orders';

/** Claims of a valid access token at `nowSeconds`, merged with `overrides` (undefined deletes a claim). */
export function accessClaims(nowSeconds: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    sub: 'alice',
    aud: AUDIENCE,
    client_id: 'shop-web',
    iat: nowSeconds,
    exp: nowSeconds + 300,
    jti: randomUUID(),
    scope: 'orders:read orders:write',
    roles: ['clerk'],
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  return claims;
}

export function mint(
  key: SigningKey,
  nowSeconds: number,
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = { typ: 'at+jwt' },
): string {
  return signJwt(header, accessClaims(nowSeconds, overrides), key);
}

export function jwksOf(...keys: SigningKey[]): unknown[] {
  return keys.map((k) => publicJwk(k));
}
