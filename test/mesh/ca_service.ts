import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SessionTicketKeys } from '../../src/crypto/index.js';
import { MemoryLeases, MemoryRecordStore } from '../../src/adapters/index.js';
import { prepareCaListener, type CaListener } from '../../src/app/ca_listener.js';
import { platformRequestStats } from '../../src/http/index.js';
import type { PlatformCore } from '../../src/app/index.js';
import { HttpCaClient } from '../../src/app/mesh_http_ca_client.js';
import { Scheduler } from '../../src/app/scheduler.js';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { Authority, JoinTokens, type AuthorityOptions } from '../../src/pki/index.js';
import { MapVault } from '../pki/helpers.js';
import { tempDir } from '../support/tmp.js';
import { closeServer, DAY, echoApp, id, TD } from './helpers.js';

/** What the CA of a {@link caService} may be tuned with (lifetimes, rotation timing). */
export type CaTuning = Partial<
  Pick<AuthorityOptions, 'svidTtlMs' | 'maxSvidTtlMs' | 'maxLeafTtlMs' | 'activationDelayMs'>
>;

/** The CA service the sidecars renew against, over HTTPS, and the means to stop and start it. */
export interface CaService {
  /** https://127.0.0.1:<port>: the same across restarts. */
  url: string;
  port: number;
  /** trust-bundle.pem as the CA listener writes it. */
  bundleFile: string;
  logger: MemoryLogger;
  /** The CA of the running service (a new object after each start: opened again from the store). */
  readonly authority: Authority;
  /** The running CA listener (its admin operations: `ca rotate`, join tokens). */
  readonly listener: CaListener;
  readonly running: boolean;
  /** A one-time join token for `spiffeId` (what `gatehouse ca join-token` makes). */
  joinToken(spiffeId: string): Promise<string>;
  /** A CA client the way `gatehouse sidecar` makes one (HTTPS, renewal over mTLS). */
  client(): HttpCaClient;
  /** Closes the CA listener: the port refuses connections until {@link start}. */
  stop(): Promise<void>;
  /** Opens the CA again from the same store and vault and listens on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The CA listener of `gatehouse up` (prepareCaListener: join tokens, renewal over mTLS, bundle, deny list) over a CA
 * on a memory store with the real clock (the sidecars' TLS checks validity against real time), its `pki.limits`
 * lifted unless `options.limits` says otherwise. `stop()` and
 * `start()` are a real restart: the listener is closed, then the CA is opened again from the stored state and a new
 * listener binds the same port.
 *
 * @example
 * const ca = await caService({ svidTtlMs: 60_000, maxSvidTtlMs: 60_000 });
 * await ca.stop(); await ca.start();
 */
/** `pki.limits` lifted: the mesh tests renew from 127.0.0.1 far more often than a real fleet. */
const UNLIMITED = { rate: 1_000_000, period: '1s', burst: 1_000_000 };
export const LIFTED_CA_LIMITS = {
  signPerAddress: UNLIMITED,
  failedBootstrapPerAddress: UNLIMITED,
  renewPerAddress: UNLIMITED,
  renewPerSpiffeId: UNLIMITED,
};

export async function caService(
  tuning: CaTuning = {},
  options: { bundleRefreshHint?: string; limits?: NonNullable<ConfigInput['pki']>['limits'] } = {},
) {
  const tmp = tempDir('gh-mesh-ca-');
  const logger = new MemoryLogger();
  const store = new MemoryRecordStore({ clock: systemClock });
  const vault = new MapVault();
  const leases = new MemoryLeases();
  const bundleFile = join(tmp.dir, 'trust-bundle.pem');
  const open = () =>
    Authority.open({
      store,
      vault,
      clock: systemClock,
      trustDomain: TD,
      rootTtlMs: 3650 * DAY,
      intermediateTtlMs: 365 * DAY,
      logger: logger.child({ component: 'authority' }),
      ...tuning,
    });
  let port = 0;
  let authority = await open();
  writeFileSync(bundleFile, authority.trustBundlePem());
  let listener: CaListener | undefined;
  let scheduler: Scheduler | undefined;
  const clients: HttpCaClient[] = [];
  const joinTokens = new JoinTokens(store, systemClock);

  const start = async (): Promise<void> => {
    if (listener) return;
    if (port !== 0) authority = await open();
    const config = loadConfig({
      overrides: {
        dataDir: tmp.dir,
        trustDomain: TD,
        listen: { host: '127.0.0.1', ca: { port } },
        pki: {
          ...(options.bundleRefreshHint ? { bundleRefreshHint: options.bundleRefreshHint } : {}),
          limits: options.limits ?? LIFTED_CA_LIMITS,
        },
      },
    });
    const core = {
      config,
      clock: systemClock,
      logger,
      records: store,
      leases,
      keyring: undefined as never,
      authority,
      requestStats: platformRequestStats(),
      close: async () => {},
    } satisfies PlatformCore;
    const prepared = await prepareCaListener({
      core,
      trustBundleFile: bundleFile,
      ticketKeys: new SessionTicketKeys(),
      ready: () => true,
    });
    scheduler = new Scheduler(leases, logger);
    port = Number(new URL(await prepared.listen(scheduler)).port);
    listener = prepared;
  };
  const stop = async (): Promise<void> => {
    const closing = listener;
    listener = undefined;
    await scheduler?.stop();
    await closing?.close();
  };

  await start();
  const service: CaService = {
    url: `https://127.0.0.1:${port}`,
    port,
    bundleFile,
    logger,
    get authority() {
      return authority;
    },
    get listener() {
      if (!listener) throw new Error('the CA service is stopped');
      return listener;
    },
    get running() {
      return listener !== undefined;
    },
    async joinToken(spiffeId) {
      // Join tokens live in the store: one made while the service is down is good once it is back.
      return (await joinTokens.create(spiffeId, 600_000)).token;
    },
    client() {
      const client = new HttpCaClient({ url: service.url, bundlePem: authority.trustBundlePem() });
      clients.push(client);
      return client;
    },
    stop,
    start,
    async close() {
      await stop();
      await Promise.all(clients.map((c) => c.close()));
      tmp.remove();
    },
  };
  return service;
}

/** What a built-CLI sidecar test starts from: a temp dir, a CA service, a join token file and an app to front. */
export interface SidecarWorkspace {
  dir: string;
  ca: CaService;
  /** spiffe://<td>/ns/prod/sa/orders: the sidecar's own ID. */
  ordersId: string;
  /** A one-time join token for `ordersId`, mode 0600. */
  tokenFile: string;
  /** The local app (echoes what it received). */
  app: Awaited<ReturnType<typeof echoApp>>;
}

/**
 * The common start of a `gatehouse sidecar --config FILE` test; everything it makes is closed by `cleanups`.
 *
 * @example
 * const { dir, ca, ordersId, tokenFile, app } = await sidecarWorkspace('gh-sidecar-renew-', cleanups);
 */
export async function sidecarWorkspace(
  prefix: string,
  cleanups: Array<() => Promise<void> | void>,
): Promise<SidecarWorkspace> {
  const tmp = tempDir(prefix);
  cleanups.push(tmp.remove);
  const ca = await caService();
  cleanups.push(() => ca.close());
  const ordersId = id('orders', 'prod');
  const tokenFile = join(tmp.dir, 'orders.join');
  writeFileSync(tokenFile, await ca.joinToken(ordersId), { mode: 0o600 });
  const app = await echoApp('orders');
  cleanups.push(() => closeServer(app.server));
  return { dir: tmp.dir, ca, ordersId, tokenFile, app };
}
