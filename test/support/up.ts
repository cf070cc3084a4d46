import { existsSync, readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { expect } from 'vitest';
import { startGatehouse, type RunningGatehouse } from '../../src/app/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { MemoryLogger, systemClock, type Logger } from '../../src/core/index.js';
import { callJson } from './https.js';

/** The `listen` overrides putting every listener of `gatehouse up` on an ephemeral port. */
export const ephemeralListen = () => ({
  admin: { port: 0 },
  kms: { port: 0 },
  identity: { port: 0 },
  identityMtls: { port: 0 },
  ca: { port: 0 },
  gateway: { port: 0 },
});

/** An in-process `gatehouse up` started by {@link startTestGatehouse}. */
export interface TestGatehouse {
  running: RunningGatehouse;
  config: Config;
  /** The platform trust bundle (PEM). */
  bundlePem: string;
  /** The admin token in the data directory ('' when there is none: a replica that joined storage without a copy). */
  adminToken: string;
  /** Stops it; a second call does nothing. */
  stop: () => Promise<void>;
}

/**
 * Starts `gatehouse up` in process on `dataDir` with every listener on port 0 and the demo mesh off (unless
 * `demoMesh`), `overrides` merged over that (top-level keys replace), the system clock and a root key made in the
 * data directory unless `rootKey` says otherwise.
 *
 * @example
 * const up = await startTestGatehouse({ dataDir: join(tmp.dir, 'data'), overrides: { redis } });
 * const agent = trustingAgent(up.running.endpoints.trustBundle);
 */
export async function startTestGatehouse(options: {
  dataDir: string;
  overrides?: Record<string, unknown>;
  demoMesh?: boolean;
  logger?: Logger;
  rootKey?: Parameters<typeof startGatehouse>[0]['rootKey'];
  rootKeyCheckEveryMs?: number;
}): Promise<TestGatehouse> {
  const config = loadConfig({
    overrides: {
      dataDir: options.dataDir,
      listen: ephemeralListen(),
      ...(options.demoMesh ? {} : { mesh: { demo: { enabled: false } } }),
      ...options.overrides,
    },
  });
  const running = await startGatehouse({
    config,
    rootKey: options.rootKey ?? {},
    clock: systemClock,
    logger: options.logger ?? new MemoryLogger(),
    ...(options.rootKeyCheckEveryMs === undefined ? {} : { rootKeyCheckEveryMs: options.rootKeyCheckEveryMs }),
  });
  let stopped = false;
  return {
    running,
    config,
    bundlePem: readFileSync(running.endpoints.trustBundle, 'utf8'),
    adminToken: existsSync(running.paths.adminToken) ? readFileSync(running.paths.adminToken, 'utf8').trim() : '',
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await running.stop();
    },
  };
}

/** A POST to the admin API made by {@link adminApi}: the answer's body. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are walked freely in assertions
export type AdminApi = (path: string, json?: unknown) => Promise<any>;

/**
 * POSTs to the admin API at `adminUrl` (through `agent`, with the admin `token`) that expect a success: exactly
 * `status` when given, any 2xx otherwise.
 *
 * @example
 * const admin = adminApi(platform, running.endpoints.admin, adminToken, 201);
 * const app = await admin('/v1/identity/clients', { name: 'orders-app', grant_types: ['client_credentials'] });
 */
export function adminApi(agent: Dispatcher, adminUrl: string, token: string, status?: number): AdminApi {
  return async (path, json = {}) => {
    const res = await callJson(agent, `${adminUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, json });
    if (status === undefined) expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    else expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
}

/**
 * Registers through `admin` the API `audience` (scope orders:read) and a client_credentials client `orders-app` of it;
 * the client's id and its `Authorization: Basic ...` value.
 *
 * @example
 * const { basic } = await ordersApp(admin, AUDIENCE);
 * const jwt = await clientCredentialsToken(platform, running.endpoints.identity, basic, AUDIENCE);
 */
export async function ordersApp(admin: AdminApi, audience: string): Promise<{ clientId: string; basic: string }> {
  await admin('/v1/identity/apis', { audience, scopes: [{ name: 'orders:read', description: 'read' }] });
  const app = await admin('/v1/identity/clients', {
    name: 'orders-app',
    grant_types: ['client_credentials'],
    scope: 'orders:read',
    audiences: [audience],
  });
  return {
    clientId: app.client_id,
    basic: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`,
  };
}

/**
 * An access token for `audience` from the client_credentials grant at `identityUrl` (through `agent`), the client
 * authenticated by `basic` (an `Authorization: Basic ...` value); expects the answer 200.
 */
export async function clientCredentialsToken(
  agent: Dispatcher,
  identityUrl: string,
  basic: string,
  audience: string,
): Promise<string> {
  const res = await callJson(agent, `${identityUrl}/oauth2/token`, {
    headers: { authorization: basic },
    form: `grant_type=client_credentials&resource=${encodeURIComponent(audience)}`,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token as string;
}
