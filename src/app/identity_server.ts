import type { Config } from '../config/index.js';
import type { Clock, Logger, RecordStore } from '../core/index.js';
import {
  ApiCatalog,
  ApiRegistry,
  AuthThrottle,
  ClientRegistry,
  IssuanceAudit,
  SigningKeys,
  TokenEndpoint,
  authorizationServerMetadata,
  clientCredentialsGrant,
  IDENTITY_PATHS,
  type Grant,
  type SealedSecrets,
} from '../identity/index.js';
import type { LimiterStore } from '../ratelimit/index.js';

/** The assembled identity capability of one process. */
export interface IdentityServer {
  apis: ApiRegistry;
  clients: ClientRegistry;
  signingKeys: SigningKeys;
  token: TokenEndpoint;
  audit: IssuanceAudit;
  /** The issuer URL (fixed once the listener is bound, unless `identity.issuer` sets it). */
  issuer(): string;
  setBoundPort(port: number): void;
  metadata(): Record<string, unknown>;
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
  });
  const signingKeys = await SigningKeys.open({
    store: records,
    vault: options.vault,
    clock,
    logger: logger.child({ component: 'signing-keys' }),
    alg: settings.signing.alg,
    prePublishMs: settings.signing.prePublish,
    rotateEveryMs: settings.signing.rotateEvery,
    maxTokenTtlMs,
  });
  const audit = new IssuanceAudit(logger.child({ audit: true, component: 'token' }));
  const grants: Grant[] = [
    clientCredentialsGrant({ apis: catalog, signingKeys, audit, defaultTtlMs: settings.accessTokenTtl }),
  ];
  let issuer = settings.issuer?.replace(/\/+$/, '');
  const currentIssuer = () => issuer ?? 'https://127.0.0.1';
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
  return {
    apis,
    clients,
    signingKeys,
    token,
    audit,
    issuer: currentIssuer,
    setBoundPort(port) {
      if (settings.issuer === undefined) issuer = `https://127.0.0.1:${port}`;
    },
    metadata: () =>
      authorizationServerMetadata({
        issuer: currentIssuer(),
        grantTypes: token.grantTypes(),
        signingAlgs: [settings.signing.alg],
      }),
    close: () => audit.flush(),
  };
}
