import type { FastifyInstance } from 'fastify';
import type { IdentityServer } from '../../src/app/identity_server.js';
import { ManualClock, type MemoryLogger, type RecordStore } from '../../src/core/index.js';
import type { SealedSecrets } from '../../src/identity/index.js';
import { openMemoryIdentity } from '../support/identity.js';
import { injectFetch } from '../support/inject_fetch.js';

export const ISSUER = 'https://id.test.example';

/** An in-memory vault standing in for the keyring's sealed secrets. */
export class MapVault implements SealedSecrets {
  readonly secrets = new Map<string, Buffer>();
  async putSecret(name: string, value: Buffer): Promise<void> {
    this.secrets.set(name, Buffer.from(value));
  }
  async getSecret(name: string): Promise<Buffer | undefined> {
    return this.secrets.get(name);
  }
  async deleteSecret(name: string): Promise<void> {
    this.secrets.delete(name);
  }
}

export interface Harness {
  clock: ManualClock;
  store: RecordStore;
  vault: MapVault;
  identity: IdentityServer;
  app: FastifyInstance;
  logger: MemoryLogger;
  /** A fetch that answers through fastify's inject (no sockets), for openid-client, oauth4webapi and jose. */
  fetch: typeof globalThis.fetch;
  /** Raw token request through the routes. */
  token(
    body: string,
    headers?: Record<string, string>,
    address?: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** The identity capability on a memory store and a manual clock, its routes on an un-listened fastify instance. */
export async function identityHarness(
  identityOverrides: Record<string, unknown> = {},
  options: { store?: RecordStore; clock?: ManualClock } = {},
): Promise<Harness> {
  const clock = options.clock ?? new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const vault = new MapVault();
  const { store, logger, identity, app, close } = await openMemoryIdentity({
    identity: { issuer: ISSUER, ...identityOverrides },
    clock,
    vault,
    store: options.store,
  });
  await app.ready();
  return {
    clock,
    store,
    vault,
    identity,
    app,
    logger,
    fetch: injectFetch(app),
    async token(body, headers = {}, address = '203.0.113.10') {
      const res = await app.inject({
        method: 'POST',
        url: '/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: body,
        remoteAddress: address,
      });
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(res.body) as Record<string, unknown>;
      } catch {
        json = { raw: res.body };
      }
      return { status: res.statusCode, headers: res.headers, json };
    },
    close,
  };
}

/** Registers an API and a client_credentials client; returns its id and secret. */
export async function ccClient(
  h: Harness,
  extra: Record<string, unknown> = {},
): Promise<{ clientId: string; secret: string; audience: string }> {
  const audience = 'https://orders.test.example';
  if (!(await h.identity.apis.get(audience))) {
    await h.identity.apis.create(audience, [
      { name: 'orders:read', description: 'read orders' },
      { name: 'orders:write', description: 'change orders' },
    ]);
  }
  const { client, secret } = await h.identity.clients.create({
    name: 'billing',
    grantTypes: ['client_credentials'],
    scopes: ['orders:read', 'orders:write'],
    ...extra,
  });
  return { clientId: client.clientId, secret: secret ?? '', audience };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}
