import type { Config } from '../config/index.js';
import { FailureStreak, type Clock, type Logger, type RecordStore } from '../core/index.js';
import {
  ApiCatalog,
  ApiKeyRegistry,
  ApiRegistry,
  IntrospectionEndpoint,
  IssuedTokenCheck,
  RevocationEndpoint,
  RevocationFeedEndpoint,
  RevocationList,
  type RevocationBus,
  AuthThrottle,
  ClientRegistry,
  IssuanceAudit,
  SigningKeys,
  TokenEndpoint,
  authorizationServerMetadata,
  clientCredentialsGrant,
  IDENTITY_PATHS,
  CorsOrigins,
  UserinfoEndpoint,
  EndSession,
  withOpenIdConfiguration,
  type Grant,
  type SealedSecrets,
} from '../identity/index.js';
import type { LimiterStore } from '../ratelimit/index.js';
import { openPeople, type IdentityPeople } from './identity_people.js';

/** The assembled identity capability of one process. */
export interface IdentityServer {
  apis: ApiRegistry;
  /** Registered APIs by audience, in memory (reloaded after `identity.clientCacheTtl`; local changes at once). */
  apiCatalog: ApiCatalog;
  clients: ClientRegistry;
  signingKeys: SigningKeys;
  token: TokenEndpoint;
  audit: IssuanceAudit;
  apiKeys: ApiKeyRegistry;
  revocations: RevocationList;
  /** In-process check of our access tokens (signature, iss, exp; revocation is `revocations`). */
  tokens: IssuedTokenCheck;
  introspection: IntrospectionEndpoint;
  revocation: RevocationEndpoint;
  revocationFeed: RevocationFeedEndpoint;
  /** People's sign-in: users, sessions, the authorization flow, codes and refresh tokens. */
  people: IdentityPeople;
  /** Browser origins clients registered, for CORS preflights of the token and revocation endpoints. */
  corsOrigins: CorsOrigins;
  /** The OpenID Connect userinfo endpoint. */
  userinfo: UserinfoEndpoint;
  /** OpenID Connect RP-initiated logout (validation of end-session requests). */
  endSession: EndSession;
  /** The issuer URL (fixed once the listener is bound, unless `identity.issuer` sets it). */
  issuer(): string;
  setBoundPort(port: number): void;
  /** The mTLS listener's base URL, once bound: metadata then publishes `mtls_endpoint_aliases` (RFC 8705 §5). */
  setMtlsBaseUrl(url: string): void;
  /** The RFC 8414 / OpenID Connect Discovery document; `scopes_supported` from the API catalog's snapshot. */
  metadata(): Promise<Record<string, unknown>>;
  close(): void;
}

/**
 * Wires the identity capability: registries on the record store, signing keys sealed in the keyring, the grant
 * registry (client_credentials; later grants are added here, never by import side effects), the throttled token
 * endpoint and the asynchronous issuance audit stream.
 *
 * @example
 * const identity = await openIdentity({ config, records, vault: keyring, limiter, clock, logger });
 */
export async function openIdentity(options: {
  config: Config;
  records: RecordStore;
  vault: SealedSecrets;
  limiter: LimiterStore;
  clock: Clock;
  logger: Logger;
  /** Push fan-out of revocations (Redis pub/sub when `redis.url` is set). */
  revocationBus?: RevocationBus;
}): Promise<IdentityServer> {
  const { config, records, clock, logger } = options;
  const settings = config.identity;
  const maxTokenTtlMs = Math.max(settings.maxAccessTokenTtl, settings.accessTokenTtl);
  const holder: { catalog?: ApiCatalog } = {};
  const apis = new ApiRegistry({ store: records, clock, onChange: () => holder.catalog?.invalidate() });
  const catalog = new ApiCatalog({ clock, ttlMs: settings.clientCacheTtl, load: () => apis.list() });
  holder.catalog = catalog;
  const clients = new ClientRegistry({
    store: records,
    clock,
    apis,
    cacheTtlMs: settings.clientCacheTtl,
    secretOverlapMs: settings.secretRotationOverlap,
    maxAccessTokenTtlMs: maxTokenTtlMs,
    trustDomain: config.trustDomain,
  });
  const signingKeys = await SigningKeys.open({
    store: records,
    vault: options.vault,
    clock,
    logger: logger.child({ component: 'signing-keys' }),
    alg: settings.signing.alg,
    // OpenID Connect ID tokens: RS256 by default (Discovery requires it), ES256 per client; each its own key set.
    extraAlgs: ['RS256', 'ES256'],
    prePublishMs: settings.signing.prePublish,
    rotateEveryMs: settings.signing.rotateEvery,
    maxTokenTtlMs,
  });
  const audit = new IssuanceAudit(logger.child({ audit: true, component: 'token' }));
  let issuer = settings.issuer; // without a trailing slash (the config schema drops it)
  let mtlsBaseUrl: string | undefined;
  const currentIssuer = () => issuer ?? 'https://127.0.0.1';
  const revoker: { list?: RevocationList } = {};
  const people = openPeople({
    config,
    records,
    clock,
    logger,
    limiter: options.limiter,
    apis: catalog,
    clients: clients.cache,
    signingKeys,
    audit,
    issuer: currentIssuer,
    revokeAccess: async (access) => {
      for (const item of access) await revoker.list?.revoke({ jti: item.jti, exp: item.exp });
    },
  });
  const grants: Grant[] = [
    clientCredentialsGrant({ apis: catalog, signingKeys, audit, defaultTtlMs: settings.accessTokenTtl }),
    ...people.grants,
  ];
  const token = new TokenEndpoint({
    grants,
    cache: clients.cache,
    store: records,
    throttle: new AuthThrottle(options.limiter, settings.limits),
    clock,
    logger: logger.child({ component: 'token' }),
    issuer: currentIssuer,
    tokenEndpointUrl: () => `${currentIssuer()}${IDENTITY_PATHS.token}`,
    maxParameters: settings.limits.maxParameters,
  });
  const protocolAudit = logger.child({ audit: true, component: 'revocation' });
  const revocations = new RevocationList({
    store: records,
    clock,
    logger: protocolAudit,
    pageSize: settings.revocation.feedPageSize,
    ...(options.revocationBus ? { bus: options.revocationBus } : {}),
  });
  revoker.list = revocations;
  await revocations.start();
  const revocationStreak = new FailureStreak({ loop: 'revocation refresh', clock, logger });
  const revocationRefresh = setInterval(
    () => void revocationStreak.run(() => revocations.refresh()),
    settings.revocation.refreshEvery,
  );
  revocationRefresh.unref();
  const apiKeys = await ApiKeyRegistry.open({
    store: records,
    clock,
    logger: logger.child({ component: 'api-keys' }),
    revocations,
    rotationOverlapMs: settings.apiKeys.rotationOverlap,
    refreshEveryMs: settings.apiKeys.refreshEvery,
    lastUsedEveryMs: settings.apiKeys.lastUsedEvery,
  });
  const tokens = new IssuedTokenCheck(
    () => signingKeys.jwksJson(),
    () => currentIssuer(),
  );
  const protocolLimits = {
    ...settings.limits,
    tokenRequestsPerAddress: settings.limits.introspectionRequestsPerAddress,
  };
  const protocolDeps = (path: string, floodName: string) => ({
    cache: clients.cache,
    store: records,
    throttle: new AuthThrottle(options.limiter, protocolLimits, 'identity:', floodName),
    clock,
    audit: protocolAudit,
    issuer: currentIssuer,
    endpointUrl: () => `${currentIssuer()}${path}`,
    maxParameters: settings.limits.maxParameters,
  });
  const introspection = new IntrospectionEndpoint({
    ...protocolDeps(IDENTITY_PATHS.introspection, 'introspect'),
    tokens,
    revocations,
    apiKeys,
  });
  const revocation = new RevocationEndpoint({
    ...protocolDeps(IDENTITY_PATHS.revocation, 'revoke'),
    tokens,
    revocations,
    apiKeys,
    refreshTokens: people.refresh,
  });
  const revocationFeed = new RevocationFeedEndpoint({
    revocations,
    tokens,
    apiKeys,
    throttle: new AuthThrottle(options.limiter, protocolLimits, 'identity:', 'feed'),
    clock,
    audit: protocolAudit,
  });
  return {
    apis,
    apiCatalog: catalog,
    clients,
    signingKeys,
    token,
    audit,
    apiKeys,
    revocations,
    tokens,
    introspection,
    revocation,
    revocationFeed,
    people,
    userinfo: new UserinfoEndpoint({ tokens, revocations, clients: clients.cache, clock }),
    endSession: new EndSession({
      clients: clients.cache,
      jwksJson: () => signingKeys.jwksJson(),
      issuer: currentIssuer,
    }),
    corsOrigins: new CorsOrigins({ clock, ttlMs: settings.clientCacheTtl, load: () => clients.list() }),
    issuer: currentIssuer,
    setBoundPort(port) {
      if (settings.issuer === undefined) issuer = `https://127.0.0.1:${port}`;
    },
    setMtlsBaseUrl(url) {
      mtlsBaseUrl = url;
    },
    metadata: async () =>
      withOpenIdConfiguration(
        authorizationServerMetadata({
          issuer: currentIssuer(),
          grantTypes: token.grantTypes(),
          signingAlgs: [settings.signing.alg],
          scopes: await catalog.scopeNames(),
          legacyImplicit: settings.signIn.legacyImplicit,
          ...(mtlsBaseUrl === undefined ? {} : { mtlsBaseUrl }),
        }),
        currentIssuer(),
      ),
    close: () => {
      clearInterval(revocationRefresh);
      void revocations.close();
      audit.flush();
    },
  };
}
