import type { Config } from '../config/index.js';
import { GatehouseError, type Logger } from '../core/index.js';
import type { SessionTicketKeys } from '../crypto/index.js';
import {
  createHttpsServer,
  registerAdminRoutes,
  registerKmsStreamRoutes,
  registerIdentityAdminRoutes,
  registerApiKeyAdminRoutes,
  registerUserAdminRoutes,
  registerCaAdminRoutes,
  type AdminTokenCheck,
  type CaAdminOperations,
  type HttpsServer,
  type KmsOperations,
} from '../http/index.js';
import type { AdminToken } from './admin_token.js';
import { adminOperations } from './admin_operations.js';
import { apiKeyAdminOperations } from './apikey_admin.js';
import type { PlatformCore } from './compose.js';
import type { DataDirPaths } from './data_dir.js';
import type { GatewayListener } from './gateway_listener.js';
import { identityAdminOperations } from './identity_admin.js';
import type { IdentityServer } from './identity_server.js';
import type { IssuedListenerCert } from './listener_certificate.js';
import { attachObjectStore } from './object_operations.js';
import { platformObjectAuthorizer, type PlatformCallers } from './platform_authorizer.js';
import { preparePlatformListener, type PlatformListener } from './platform_listener.js';
import { auditPosture } from './posture_checks.js';
import { gatherPostureFacts } from './posture_facts.js';
import type { ResolvedRootKey } from './root_key_source.js';
import { userAdminOperations } from './user_admin.js';
import { WorkloadCertificates } from './workload_certificates.js';

/** The admin listener, prepared with its certificate, and the workload certificates it accepts. */
export interface AdminListener {
  listener: PlatformListener<HttpsServer>;
  workloads: WorkloadCertificates;
}

/**
 * Prepares the admin listener of `gatehouse up` with a certificate from the platform CA. Its object routes take
 * workload certificates too: client certificates are requested, never required.
 *
 * @example
 * const { listener, workloads } = await prepareAdminListener({ core, config, ticketKeys, ready: () => ready, logger });
 */
export async function prepareAdminListener(o: {
  core: PlatformCore;
  config: Config;
  ticketKeys: SessionTicketKeys;
  ready: () => boolean;
  logger: Logger;
}): Promise<AdminListener> {
  const { core, config, logger } = o;
  const workloads = await WorkloadCertificates.open(core, logger.child({ listener: 'admin' }));
  const listener = await preparePlatformListener({
    core,
    component: 'admin',
    logger,
    build: (issued: IssuedListenerCert) =>
      createHttpsServer({
        name: 'admin',
        http: config.http,
        requestStats: core.requestStats,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
        ticketKeys: o.ticketKeys,
        logger: logger.child({ listener: 'admin' }),
        ready: o.ready,
        clientAuth: workloads.clientAuth(),
      }),
  });
  return { listener, workloads };
}

/** A listener whose certificate the admin API renews (`POST /v1/tls/renew`), by the name it reports. */
export type RenewableListener = readonly [name: string, listener: { renewCertificate(): Promise<IssuedListenerCert> }];

/**
 * Registers the admin API of `gatehouse up` on the admin listener: status, admin token, listener certificate renewal,
 * gateway cache purge and `doctor`; KMS streams; the object store and backups (their leftovers removed first); the
 * identity, API key, user and CA administration. The gateway starts after these routes exist: `gateway` says whether
 * it runs yet.
 *
 * @example
 * await registerAdminApi(listener.server.app, { core, config, paths, adminToken, rootKey, checkAdmin, callers, identity,
 *   kmsOps, workloads, caAdmin: ca.admin, listeners: [['admin', listener]], gateway: () => started.gateway, logger });
 */
export async function registerAdminApi(
  app: HttpsServer['app'],
  o: {
    core: PlatformCore;
    config: Config;
    paths: DataDirPaths;
    adminToken: AdminToken;
    rootKey: ResolvedRootKey;
    checkAdmin: AdminTokenCheck;
    callers: PlatformCallers;
    identity: IdentityServer;
    kmsOps: KmsOperations;
    /** The admin listener's workload certificates (object routes take them too). */
    workloads: WorkloadCertificates;
    caAdmin: CaAdminOperations;
    /** Renewed in this order, then the gateway when it runs. */
    listeners: readonly RenewableListener[];
    gateway: () => GatewayListener | undefined;
    logger: Logger;
  },
): Promise<void> {
  const { core, config, paths, adminToken, rootKey, checkAdmin, callers, identity, logger } = o;
  registerAdminRoutes(
    app,
    adminOperations({
      core,
      paths,
      adminToken,
      rootKey,
      checkAdmin,
      renewListeners: () => renewCertificates(o.listeners, o.gateway),
      purgeGatewayCache: (filter) => {
        const gateway = o.gateway();
        if (!gateway) throw new GatehouseError('ERR_NOT_RUNNING', { detail: 'the gateway has not started' });
        return gateway.purgeCache(filter);
      },
      doctor: async () =>
        auditPosture(
          await gatherPostureFacts({
            core,
            paths,
            rootKey,
            identity,
            gateway: () => o.gateway()?.config() ?? config.gateway,
          }),
        ),
    }),
  );
  registerKmsStreamRoutes(app, {
    ops: o.kmsOps,
    checkToken: checkAdmin,
    logger: logger.child({ listener: 'admin' }),
  });
  await attachObjectStore(app, core, checkAdmin, rootKey, platformObjectAuthorizer(callers, logger, o.workloads));
  registerIdentityAdminRoutes(app, checkAdmin, identityAdminOperations(identity, logger));
  registerApiKeyAdminRoutes(app, checkAdmin, apiKeyAdminOperations(identity, logger));
  registerUserAdminRoutes(app, checkAdmin, userAdminOperations(identity, logger));
  registerCaAdminRoutes(app, checkAdmin, o.caAdmin);
}

/** Renews each listener's certificate in turn, then the gateway's when it runs; what each got. */
async function renewCertificates(
  listeners: readonly RenewableListener[],
  gateway: () => GatewayListener | undefined,
): Promise<Array<{ listener: string; serialNumber: string; notAfter: string }>> {
  const renewed = [];
  for (const [listener, certificate] of listeners) {
    renewed.push(described(listener, await certificate.renewCertificate()));
  }
  const running = gateway();
  if (running) renewed.push(described('gateway', await running.renewCertificate()));
  return renewed;
}

function described(listener: string, cert: IssuedListenerCert) {
  return { listener, serialNumber: cert.serialNumber, notAfter: new Date(cert.notAfter).toISOString() };
}
