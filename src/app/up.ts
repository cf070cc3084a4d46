import { existsSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { GatehouseError, writeFileAtomic, type Clock, type Logger } from '../core/index.js';
import { acquireFileLock } from '../adapters/index.js';
import { registerMeshAdminRoutes, type HttpsServer } from '../http/index.js';
import { prepareAdminListener, registerAdminApi } from './admin_listener.js';
import { AdminToken } from './admin_token.js';
import type { PlatformCore } from './compose.js';
import {
  dataDirPaths,
  ensureDataDir,
  readManifest,
  refuseOtherStorage,
  refuseUnfinishedRestore,
  type DataDirPaths,
} from './data_dir.js';
import { removeEndpointsFile, writeEndpointsFile, type Endpoints } from './endpoints_file.js';
import { initializeDataDir } from './first_start.js';
import { prepareIdentityListeners } from './identity_listeners.js';
import { prepareCaListener } from './ca_listener.js';
import { identityBootstrapVerifier } from './ca_bootstrap.js';
import { platformCallers } from './platform_authorizer.js';
import { kmsOperations } from './kms_operations.js';
import { prepareKmsListener } from './kms_listener.js';
import { ROOT_KEY_CHECK_MS, RootKeyFollower, type RootKeyCheck } from './root_key_follower.js';
import { resolveRootKey, type RootKeyInputs } from './root_key_source.js';
import { recordInManifest } from './root_rotation.js';
import { openSealedCore } from './sealed_core.js';
import { Scheduler, recordsPurgeJob } from './scheduler.js';
import { Cleanups } from './cleanups.js';
import { startDemoMesh, type DemoMesh } from './mesh_demo.js';
import { startGatewayListener, type GatewayListener } from './gateway_listener.js';
import { identityApiKeys } from './gateway_authenticator.js';
import { inProcessFeedToken } from './gateway_feed_token.js';
import { caMetricsText } from './ca_metrics.js';
import { registerMetricsRoute } from './metrics_route.js';
import { SessionTicketKeys } from '../crypto/index.js';

export interface RunningGatehouse {
  paths: DataDirPaths;
  endpoints: Endpoints;
  core: PlatformCore;
  /** True when this start created the data directory. */
  created: boolean;
  rootKeyCreated: boolean;
  /**
   * Swaps the gateway's routes, limits and upstreams (SIGHUP), first building and starting what the section adds (the
   * JWT verifier, the gateway's SVID); rejects with ERR_CONFIG_INVALID and keeps the old ones.
   */
  reloadGateway(gateway: Config['gateway']): Promise<void>;
  /**
   * Follows a root rotation made by another replica on the same storage now (it is also checked every 5 s): when the
   * store is sealed under another root key, re-reads the root key source and adopts the new key if it holds it.
   */
  refreshRootKey(): Promise<RootKeyCheck>;
  /** Stops accepting, drains in-flight requests, closes stores, removes endpoints.json, releases the lock. */
  stop(): Promise<void>;
}

/**
 * `gatehouse up`: locks the data directory, initializes it on first start (all or nothing), opens storage, keyring
 * and CA, starts every listener with a certificate from the platform CA, and writes endpoints.json once all are ready.
 * A root key rotated through another replica on the same PostgreSQL is followed once this replica's root key source
 * holds it (RootKeyFollower, every 5 s and `refreshRootKey`).
 */
export async function startGatehouse(options: {
  config: Config;
  rootKey: RootKeyInputs;
  clock: Clock;
  logger: Logger;
  /** How often a root rotation made by another replica is looked for (default 5 s). */
  rootKeyCheckEveryMs?: number;
}): Promise<RunningGatehouse> {
  const { config, clock, logger } = options;
  const paths = dataDirPaths(config.dataDir);
  ensureDataDir(paths);
  const lock = acquireFileLock(paths.lock);
  if (!lock) {
    throw new GatehouseError('ERR_DATADIR_LOCKED', {
      message: `another gatehouse is already running on ${paths.dir} (lock held on ${paths.lock})`,
    });
  }
  const cleanups = new Cleanups(logger);
  cleanups.push(() => lock.release());
  try {
    if (existsSync(paths.endpoints)) removeEndpointsFile(paths);
    let created = false;
    let rootKeyCreated = false;
    refuseUnfinishedRestore(paths);
    const manifest = readManifest(paths);
    if (manifest) refuseOtherStorage(manifest, config, paths);
    else {
      const supplied = resolveRootKey(options.rootKey, paths, logger);
      ({ rootKeyCreated } = await initializeDataDir({ config, paths, suppliedRootKey: supplied, clock, logger }));
      created = true;
    }
    const { core, rootKey } = await openSealedCore({
      config,
      rootKey: options.rootKey,
      paths,
      clock,
      logger,
      rootKeyCreated,
    });
    cleanups.push(() => core.close());
    const follower = new RootKeyFollower({
      keyring: core.keyring,
      inputs: options.rootKey,
      paths,
      rootKey,
      clock,
      logger,
      onAdopted: (key) => recordInManifest(paths, key),
    });
    follower.start(options.rootKeyCheckEveryMs ?? ROOT_KEY_CHECK_MS);
    cleanups.push(() => follower.stop());
    const adminToken = await AdminToken.load(core.records);
    // Shared by every replica on the same storage: a rotation made through another one ends the old token here too.
    cleanups.push(adminToken.follow(core.records, core.clock, logger));
    writeFileAtomic(paths.trustBundle, await core.authority.trustBundlePem(), 0o644);

    const ticketKeys = new SessionTicketKeys();
    ticketKeys.start(config.http.ticketKeyRotation);
    cleanups.push(() => ticketKeys.stop());
    let ready = false;
    const { listener: adminListener, workloads: adminWorkloads } = await prepareAdminListener({
      core,
      config,
      ticketKeys,
      ready: () => ready,
      logger,
    });
    if (config.storage.kind === 'postgres' && config.identity.issuer === undefined) {
      logger.warn(
        { setting: 'identity.issuer' },
        'identity.issuer is not set: this replica names itself after its own address, so its tokens are refused by other replicas on the same storage. Set identity.issuer to the URL clients use (the load balancer).',
      );
    }
    const kmsOps = kmsOperations(core);
    const identityListeners = await prepareIdentityListeners({ core, ticketKeys, ready: () => ready });
    cleanups.push(() => identityListeners.close());
    const { identity } = identityListeners;
    // The admin token, our access tokens and API keys, with scopes (docs/identity.md, "Authorization of our APIs").
    const callers = platformCallers({
      identity,
      checkAdminToken: (token) => adminToken.check(token),
      apiKeyHeader: config.identity.apiKeys.header,
      platformAudience: config.identity.platformAudience,
      clock,
      logger,
    });
    const checkAdmin = (token: string) => callers.adminCheck(token);
    const kmsListener = await prepareKmsListener({ core, ops: kmsOps, callers, ticketKeys, ready: () => ready });
    cleanups.push(() => kmsListener.close());
    const caListener = await prepareCaListener({
      core,
      trustBundleFile: paths.trustBundle,
      ticketKeys,
      ready: () => ready,
      // pki.limits count with the identity throttles (Redis when redis.url is set: shared by every replica).
      limiter: identityListeners.main.limiter,
      // Access tokens of clients holding SPIFFE IDs enroll too (docs/ca.md, "Enrollment with an access token").
      bootstrap: identityBootstrapVerifier({
        identity,
        platformAudience: config.identity.platformAudience,
        clock,
      }),
    });
    cleanups.push(() => caListener.close());
    const admin: HttpsServer = adminListener.server;
    const started: { gateway?: GatewayListener } = {}; // the gateway starts after the admin routes exist
    await registerAdminApi(admin.app, {
      core,
      config,
      paths,
      adminToken,
      rootKey,
      checkAdmin,
      callers,
      identity,
      kmsOps,
      workloads: adminWorkloads,
      caAdmin: caListener.admin,
      listeners: [
        ['admin', adminListener],
        ['kms', kmsListener],
        ['identity', identityListeners.main],
        ['identityMtls', identityListeners.mtls],
        ['ca', caListener],
      ],
      gateway: () => started.gateway,
      logger,
    });
    let demoMesh: DemoMesh | undefined;
    if (config.mesh.demo.enabled) {
      const mesh = await startDemoMesh({
        authority: core.authority,
        records: core.records,
        clock,
        logger: logger.child({ component: 'mesh' }),
        frontendPort: config.mesh.demo.frontendPort,
        backendPort: config.mesh.demo.backendPort,
        renewAtFraction: config.pki.renewAtFraction,
      });
      cleanups.push(() => mesh.stop());
      registerMeshAdminRoutes(admin.app, checkAdmin, mesh);
      demoMesh = mesh;
    }
    registerMetricsRoute(
      admin.app,
      {
        platform: () => caMetricsText(core.authority.status(clock.now())) + core.requestStats.text(),
        gateway: () => started.gateway?.metrics,
      },
      (token) => adminToken.check(token),
    );
    const bound = await adminListener.listen('127.0.0.1', config.listen.admin.port);
    adminWorkloads.start(admin);
    cleanups.push(() => adminWorkloads.stop());
    cleanups.push(() => adminListener.close());

    const kmsUrl = await kmsListener.listen();

    const scheduler = new Scheduler(core.leases, logger.child({ component: 'scheduler' }));
    scheduler.add(recordsPurgeJob(core.records, logger));
    cleanups.push(() => scheduler.stop());
    const {
      issuer: identityIssuer,
      url: identityUrl,
      mtlsUrl: identityMtlsUrl,
    } = await identityListeners.listen(scheduler);
    const caUrl = await caListener.listen(scheduler);
    const gateway = await startGatewayListener({
      core,
      ticketKeys,
      issuer: identityIssuer,
      trustBundlePem: await core.authority.trustBundlePem(),
      apiKeys: identityApiKeys(identity, config.gateway.jwtAudience),
      // JWT routes poll the issuer's revocation feed with a short-lived in-process token (revocations:read).
      feedCredential: inProcessFeedToken({
        identity,
        audience: config.identity.platformAudience,
        clock,
      }),
    });
    started.gateway = gateway;
    cleanups.push(() => gateway.close());

    const endpoints: Endpoints = {
      pid: process.pid,
      admin: `https://127.0.0.1:${bound.port}`,
      kms: kmsUrl,
      identity: identityUrl,
      issuer: identityIssuer,
      identityMtls: identityMtlsUrl,
      ca: caUrl,
      gateway: gateway.url,
      trustBundle: paths.trustBundle,
      trustDomain: config.trustDomain,
      ...(demoMesh ? { mesh: demoMesh.endpoints } : {}),
    };
    writeEndpointsFile(paths, endpoints);
    cleanups.push(() => removeEndpointsFile(paths));
    ready = true;

    return {
      paths,
      endpoints,
      core,
      created,
      rootKeyCreated,
      reloadGateway: (section) => gateway.reload(section),
      refreshRootKey: () => follower.check(),
      stop: () => {
        ready = false;
        return cleanups.unwind();
      },
    };
  } catch (err) {
    await cleanups.unwind();
    throw err;
  }
}
