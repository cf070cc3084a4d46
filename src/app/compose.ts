import type { Config } from '../config/index.js';
import {
  GatehouseError,
  isGatehouseError,
  type Clock,
  type Leases,
  type Logger,
  type RecordStore,
  type RequestStats,
} from '../core/index.js';
import { openStorage } from '../adapters/index.js';
import { Keyring } from '../kms/index.js';
import { decodeJwt } from '../crypto/index.js';
import type { TokenBindingCheck } from '../mesh/index.js';
import { checkCertificateBinding } from '../resource/index.js';
import { Authority } from '../pki/index.js';
import { platformRequestStats } from '../http/index.js';
import { AdminToken } from './admin_token.js';
import type { ResolvedRootKey } from './root_key_source.js';

/** The opened core of a gatehouse process: storage, the sealed keyring and the CA. */
export interface PlatformCore {
  config: Config;
  clock: Clock;
  logger: Logger;
  records: RecordStore;
  leases: Leases;
  keyring: Keyring;
  authority: Authority;
  /** The HTTP request metrics of this process's platform listeners (served on `/metrics`). */
  requestStats: RequestStats;
  close(): Promise<void>;
}

/**
 * The only place that wires the modules together: storage from config, the keyring on the root key, the CA with the
 * keyring as its secret vault. Opening verifies the root key before anything else reads sealed data.
 */
export async function openPlatformCore(options: {
  config: Config;
  rootKey: ResolvedRootKey;
  clock: Clock;
  logger: Logger;
  /**
   * Refuse (ERR_STORE_NOT_INITIALIZED) a store that no first start completed, instead of creating a keyring and a CA
   * in it: components started alone never initialize storage, `gatehouse up` does.
   */
  requireInitialized?: boolean;
}): Promise<PlatformCore> {
  const { config, clock, logger } = options;
  const storage = await openStorage(config, { clock, logger: logger.child({ component: 'storage' }) });
  try {
    if (options.requireInitialized && !(await AdminToken.exists(storage.records))) {
      throw new GatehouseError('ERR_STORE_NOT_INITIALIZED', {
        message: notInitializedMessage(config),
      });
    }
    const keyring = await Keyring.open({
      store: storage.records,
      root: options.rootKey.key,
      clock,
      logger: logger.child({ component: 'keyring' }),
      usageBlock: config.keyring.usageBlock,
      maxEncryptionsPerVersion: config.keyring.maxEncryptionsPerVersion,
    }).catch((err: unknown) => {
      throw wrongRootKeyForSharedStorage(err, config, options.rootKey);
    });
    const authority = await Authority.open({
      store: storage.records,
      vault: keyring,
      clock,
      trustDomain: config.trustDomain,
      rootTtlMs: config.pki.rootTtl,
      intermediateTtlMs: config.pki.intermediateTtl,
      expiryWarningMs: config.pki.expiryWarning,
      svidTtlMs: config.pki.svidTtl,
      maxSvidTtlMs: config.pki.maxSvidTtl,
      maxLeafTtlMs: Math.max(config.pki.maxSvidTtl, config.pki.listenerCertTtl),
      activationDelayMs: config.pki.caActivationDelay,
      logger: logger.child({ component: 'ca' }),
    });
    return {
      config,
      clock,
      logger,
      records: storage.records,
      leases: storage.leases,
      keyring,
      authority,
      requestStats: platformRequestStats(),
      close: () => storage.close(),
    };
  } catch (err) {
    await storage.close();
    throw err;
  }
}

/**
 * ERR_ROOT_KEY_WRONG on PostgreSQL names the schema, the key that was tried (fingerprint and where it came from) and
 * that every replica needs the same key; the registry's "does not open this data directory" points at the wrong place
 * for a replica whose data directory is new. Other errors, and SQLite, pass through.
 */
function wrongRootKeyForSharedStorage(err: unknown, config: Config, rootKey: ResolvedRootKey): unknown {
  if (!isGatehouseError(err, 'ERR_ROOT_KEY_WRONG') || config.storage.kind !== 'postgres') return err;
  const from = rootKey.file ?? (rootKey.source === 'env' ? 'GATEHOUSE_ROOT_KEY' : rootKey.source);
  return new GatehouseError('ERR_ROOT_KEY_WRONG', {
    message:
      `the root key ${rootKey.key.fingerprint()} (from ${from}) does not open the PostgreSQL schema ` +
      `${config.storage.postgres.schema}, which is sealed under another root key: give every replica the same root key`,
    cause: err,
  });
}

/** What to do about a store that was never initialized, naming the storage. */
export function notInitializedMessage(config: Config): string {
  const where =
    config.storage.kind === 'postgres'
      ? `PostgreSQL schema ${config.storage.postgres.schema}`
      : `data directory ${config.dataDir}`;
  return `the ${where} holds no initialized gatehouse: run \`gatehouse up --config FILE\` once on the same storage (it creates the keyring, the CA and the signing keys), then start the component again`;
}

/**
 * The mesh's token-binding check (the `TokenBindingCheck` port of a sidecar with `bindTokens`), wired to the resource
 * verifier's RFC 8705 rule: a JWT whose `cnf.x5t#S256` is not the caller's certificate thumbprint is refused, as is a
 * `cnf` the verifier cannot check. The sidecar only reads the claims; it does not verify the signature, because it
 * refuses and never admits on them: a forged or altered token still meets the app's verifier, and removing `cnf`
 * breaks the signature. Credentials that are not JWTs (API keys, opaque tokens) pass to the app.
 *
 * @example
 * await Sidecar.start({ ...options, tokenBinding: meshTokenBinding() });
 */
export function meshTokenBinding(): TokenBindingCheck {
  return (token, thumbprint) => {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token).payload;
    } catch {
      return true;
    }
    try {
      checkCertificateBinding(claims, thumbprint);
      return true;
    } catch {
      return false;
    }
  };
}
