import { processEnvironment, threadPoolSize, type Config } from '../config/index.js';
import type { Clock, Logger, RecordStore } from '../core/index.js';
import {
  AuthThrottle,
  AuthorizationCodes,
  AuthorizationFlow,
  CodeEntryThrottle,
  ConnectedApps,
  DeviceAuthorizationEndpoint,
  DeviceAuthorizations,
  DeviceVerification,
  IDENTITY_PATHS,
  ConsentStore,
  PasswordHasher,
  RefreshTokens,
  SessionStore,
  SignInThrottle,
  UserRegistry,
  UserTokenIssuer,
  attemptsWithin,
  authorizationCodeGrant,
  deviceCodeGrant,
  newSessionAdmission,
  refreshTokenGrant,
  type ApiCatalog,
  type ClientCache,
  type Grant,
  type IssuanceAudit,
  type IssuedAccess,
  type SigningKeys,
} from '../identity/index.js';
import type { LimiterStore } from '../ratelimit/index.js';

/** People's sign-in, assembled: users, sessions, consents, codes, refresh tokens, the flow and its two grants. */
export interface IdentityPeople {
  users: UserRegistry;
  sessions: SessionStore;
  consents: ConsentStore;
  /** The account page's apps: remembered consents and live refresh tokens, revoked together. */
  apps: ConnectedApps;
  codes: AuthorizationCodes;
  refresh: RefreshTokens;
  flow: AuthorizationFlow;
  grants: Grant[];
  /** RFC 8628: the device authorization endpoint and the person's device pages. */
  device: { endpoint: DeviceAuthorizationEndpoint; verification: DeviceVerification };
}

/**
 * Wires people's sign-in from `identity.signIn.*`: the scrypt hasher with its bounded queue, the sign-in throttle on
 * the limiter store, server-side sessions, remembered consents, one-time codes, rotating refresh tokens (revoking a
 * family revokes its access tokens through `revokeAccess`), the authorization flow, the device flow (`identity.device.*`)
 * and the authorization_code, refresh_token and device_code grants for the token endpoint's registry.
 *
 * @example
 * const people = openPeople({ config, records, clock, logger, limiter, apis, clients, signingKeys, audit, issuer, revokeAccess });
 */
export function openPeople(options: {
  config: Config;
  records: RecordStore;
  clock: Clock;
  logger: Logger;
  limiter: LimiterStore;
  apis: ApiCatalog;
  clients: ClientCache;
  signingKeys: SigningKeys;
  audit: IssuanceAudit;
  issuer: () => string;
  revokeAccess: (access: IssuedAccess[]) => Promise<void>;
}): IdentityPeople {
  const { config, records: store, clock, logger } = options;
  const settings = config.identity.signIn;
  // scrypt and the token endpoint's signatures share libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says
  // otherwise): hashes that can take every thread would queue every token behind a sign-in flood.
  const pool = threadPoolSize(processEnvironment());
  if (settings.hashConcurrency >= pool) {
    logger.warn(
      { event: 'hash_concurrency_fills_thread_pool', hashConcurrency: settings.hashConcurrency, threadPool: pool },
      'identity.signIn.hashConcurrency can occupy every thread-pool thread, so a sign-in flood delays token signing: keep it below UV_THREADPOOL_SIZE',
    );
  }
  const hasher = new PasswordHasher({
    params: { ln: settings.scryptCost, r: 8, p: 1 },
    concurrency: settings.hashConcurrency,
    queue: settings.hashQueue,
  });
  const throttle = new SignInThrottle(options.limiter, settings);
  const holder: { refresh?: RefreshTokens } = {};
  const users = new UserRegistry({
    store,
    clock,
    hasher,
    throttle,
    onGenerationChange: async (account) => {
      await holder.refresh?.revokeAllOf(account);
    },
  });
  const sessions = new SessionStore({
    store,
    clock,
    ttlMs: settings.sessionTtl,
    idleMs: settings.sessionIdleTtl,
    accountCheck: async (account, generation) => UserRegistry.accepts(await users.find(account), generation),
    admitNew: newSessionAdmission(options.limiter, settings.newSessionsPerAddress),
  });
  const consents = new ConsentStore({ store, clock });
  const codes = new AuthorizationCodes({ store, clock, ttlMs: settings.codeTtl });
  const refreshLog = logger.child({ audit: true, component: 'refresh-tokens' });
  const refresh = new RefreshTokens({
    store,
    clock,
    idleMs: settings.refreshIdleTtl,
    absoluteMs: settings.refreshAbsoluteTtl,
    graceMs: settings.refreshGraceWindow,
    onRevoked: async (family, access) => {
      refreshLog.warn(
        {
          event: 'refresh_family_revoked',
          clientId: family.clientId,
          familyId: family.familyId,
          accessTokens: access.length,
        },
        'refresh token family revoked',
      );
      await options.revokeAccess(access);
    },
  });
  holder.refresh = refresh;
  const tokens = new UserTokenIssuer({
    signingKeys: options.signingKeys,
    audit: options.audit,
    defaultTtlMs: config.identity.accessTokenTtl,
  });
  const flow = new AuthorizationFlow({
    clients: options.clients,
    apis: options.apis,
    users,
    sessions,
    consents,
    codes,
    tokens,
    clock,
    logger: logger.child({ component: 'authorize' }),
    issuer: options.issuer,
    legacyImplicit: settings.legacyImplicit,
    implicitTtlMs: settings.implicitTokenTtl,
  });
  const deviceSettings = config.identity.device;
  const devices = new DeviceAuthorizations({
    store,
    clock,
    ttlMs: deviceSettings.codeTtl,
    interval: deviceSettings.interval,
    maxPending: deviceSettings.maxPending,
  });
  const device = {
    endpoint: new DeviceAuthorizationEndpoint({
      cache: options.clients,
      store,
      throttle: new AuthThrottle(options.limiter, config.identity.limits, 'identity:', 'device'),
      clock,
      audit: logger.child({ audit: true, component: 'device-authorization' }),
      issuer: options.issuer,
      endpointUrl: () => `${options.issuer()}${IDENTITY_PATHS.deviceAuthorization}`,
      maxParameters: config.identity.limits.maxParameters,
      devices,
      apis: options.apis,
      attempts: attemptsWithin(deviceSettings.failedEntryGlobal, deviceSettings.codeTtl),
    }),
    verification: new DeviceVerification({
      devices,
      sessions,
      throttle: new CodeEntryThrottle(options.limiter, deviceSettings),
      clients: options.clients,
      apis: options.apis,
      clock,
      logger: logger.child({ component: 'device' }),
    }),
  };
  const grants = [
    authorizationCodeGrant({ codes, refresh, users, tokens, clock, revokeAccess: options.revokeAccess }),
    refreshTokenGrant({ refresh, users, tokens }),
    deviceCodeGrant({ devices, refresh, users, tokens }),
  ];
  const apps = new ConnectedApps({ consents, refresh });
  return { users, sessions, consents, apps, codes, refresh, flow, grants, device };
}
