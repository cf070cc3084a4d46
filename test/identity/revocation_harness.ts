import type { FastifyInstance } from 'fastify';
import type { IdentityServer } from '../../src/app/identity_server.js';
import { ManualClock, type MemoryLogger, type RecordStore } from '../../src/core/index.js';
import type { RevocationBus } from '../../src/identity/index.js';
import { openMemoryIdentity } from '../support/identity.js';
import { injectFetch } from '../support/inject_fetch.js';
import { MapVault } from './harness.js';

export const ISSUER = 'https://id.test.example';
export const ORDERS = 'https://orders.test.example';

export interface RevocationHarness {
  clock: ManualClock;
  store: RecordStore;
  identity: IdentityServer;
  app: FastifyInstance;
  logger: MemoryLogger;
  /** A fetch answering through fastify's inject (no sockets), for openid-client. */
  fetch: typeof globalThis.fetch;
  /** Listens on 127.0.0.1:0 (https when `tls` was given); returns the base URL. */
  listen(): Promise<string>;
  post(
    path: string,
    form: Record<string, string>,
    headers?: Record<string, string>,
    address?: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** The identity capability with introspection, revocation and the feed on an un-listened fastify instance. */
export async function revocationHarness(
  identityOverrides: Record<string, unknown> = {},
  options: {
    clock?: ManualClock;
    store?: RecordStore;
    bus?: RevocationBus;
    vault?: MapVault;
    tls?: { cert: string; key: string };
  } = {},
): Promise<RevocationHarness> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const { store, logger, identity, app, close } = await openMemoryIdentity({
    identity: { issuer: ISSUER, ...identityOverrides },
    clock,
    vault: options.vault ?? new MapVault(),
    store: options.store,
    revocationBus: options.bus,
    tls: options.tls,
    revocationRoutes: true,
  });
  await app.ready();
  return {
    clock,
    store,
    identity,
    app,
    logger,
    fetch: injectFetch(app),
    async listen() {
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      return address;
    },
    async post(path, form, headers = {}, address = '203.0.113.10') {
      const res = await app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(form).toString(),
        remoteAddress: address,
      });
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(res.body) as Record<string, unknown>;
      } catch {
        // empty body (revocation)
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, json };
    },
    close,
  };
}

/** Registers the orders API (and optionally another) and a confidential client_credentials client. */
export async function client(
  h: RevocationHarness,
  name: string,
  extra: { audiences?: string[]; scopes?: string[]; roles?: string[] } = {},
): Promise<{ clientId: string; secret: string }> {
  if (!(await h.identity.apis.get(ORDERS))) {
    await h.identity.apis.create(ORDERS, [
      { name: 'orders:read', description: 'read orders' },
      { name: 'revocations:read', description: 'read the revocation feed' },
    ]);
  }
  const { client: c, secret } = await h.identity.clients.create({
    name,
    grantTypes: ['client_credentials'],
    scopes: extra.scopes ?? ['orders:read'],
    ...(extra.audiences ? { audiences: extra.audiences } : {}),
    ...(extra.roles ? { roles: extra.roles } : {}),
  });
  return { clientId: c.clientId, secret: secret ?? '' };
}

export function basic(id: string, secret: string): Record<string, string> {
  return {
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
  };
}

/** A client_credentials token for `c` (through the token endpoint). */
export async function tokenFor(h: RevocationHarness, c: { clientId: string; secret: string }, scope = 'orders:read') {
  const res = await h.post('/oauth2/token', { grant_type: 'client_credentials', scope }, basic(c.clientId, c.secret));
  if (res.status !== 200) throw new Error(`token request failed: ${res.body}`);
  return res.json['access_token'] as string;
}
