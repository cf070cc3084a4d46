import { GatehouseError } from '../core/index.js';
import type { KmsContext, KmsOperations } from '../http/index.js';
import { Envelopes, envelopeFromText, envelopeToText } from '../kms/index.js';
import { snakeCase } from './admin_operations.js';
import type { PlatformCore } from './compose.js';
import { kmsStreams } from './kms_streams.js';

/** Parses a `gh1:` ciphertext and checks that its header names `key` (ERR_KMS_KEY_MISMATCH otherwise). */
function envelopeOf(envelopes: Envelopes, key: string, text: string) {
  const bytes = envelopeFromText(text);
  const header = envelopes.inspect(bytes);
  if (header.keyName !== key) {
    throw new GatehouseError('ERR_KMS_KEY_MISMATCH', { detail: `ciphertext of ${header.keyName}, route ${key}` });
  }
  return { bytes, header };
}

/**
 * Envelopes over the keyring, with the data-key cache of `kms.dataKeyCache` when it is enabled (logged: one data key
 * then seals many messages, within the configured age, message and byte bounds).
 */
function configuredEnvelopes(core: PlatformCore): Envelopes {
  const c = core.config.kms.dataKeyCache;
  if (!c.enabled) return new Envelopes({ keys: core.keyring, clock: core.clock });
  core.logger.warn(
    { event: 'kms_data_key_cache_on', max_age_ms: c.maxAge, max_messages: c.maxMessages, max_bytes: c.maxBytes },
    'KMS data-key cache on: transit encrypt reuses data keys within the configured bounds (kms.dataKeyCache)',
  );
  return new Envelopes({
    keys: core.keyring,
    clock: core.clock,
    cache: { maxAgeMs: c.maxAge, maxMessages: c.maxMessages, maxBytes: c.maxBytes, maxEntries: c.maxEntries },
  });
}

/**
 * The KMS operations of the transit API and the CLI's streaming endpoints, on this process's keyring and an
 * {@link Envelopes} over it: key management (snake_case results), encrypt, decrypt (single-shot and stream
 * envelopes, and data keys: Vault's `decrypt` of a `datakey` ciphertext gives the data key), rewrap, data keys and
 * streams.
 *
 * @example
 * registerKmsRoutes(server.app, { ops: kmsOperations(core), authorizer, logger, maxBatchItems: 1000 });
 */
export function kmsOperations(core: PlatformCore, envelopes = configuredEnvelopes(core)): KmsOperations {
  const { keyring } = core;
  return {
    keys: {
      create: async (name, options) => snakeCase(await keyring.createKey(name, options)),
      get: async (name) => snakeCase(await keyring.getKey(name)),
      list: async () => snakeCase(await keyring.listKeys()) as unknown[],
      configure: async (name, change) => snakeCase(await keyring.configureKey(name, change)),
      rotate: async (name) => snakeCase(await keyring.rotateKey(name)),
      delete: async (name) => snakeCase(await keyring.deleteKey(name)),
      restore: async (name) => snakeCase(await keyring.restoreKey(name)),
      trim: async (name, min) => snakeCase(await keyring.trimKey(name, min)),
    },
    async encrypt(key: string, plaintext: Buffer, context: KmsContext) {
      const sealed = await envelopes.encrypt(key, plaintext, context);
      return { ciphertext: envelopeToText(sealed), keyVersion: envelopes.inspect(sealed).keyVersion };
    },
    async decrypt(key: string, ciphertext: string, context: KmsContext) {
      const { bytes, header } = envelopeOf(envelopes, key, ciphertext);
      const opened =
        header.mode === 'datakey'
          ? await envelopes.unwrapDataKey(bytes, context)
          : await envelopes.decrypt(bytes, context);
      return { plaintext: opened.plaintext, keyVersion: opened.keyVersion };
    },
    async rewrap(key: string, ciphertext: string, context: KmsContext) {
      const { bytes } = envelopeOf(envelopes, key, ciphertext);
      const fresh = await envelopes.rewrap(bytes, context);
      return { ciphertext: envelopeToText(fresh), keyVersion: envelopes.inspect(fresh).keyVersion };
    },
    async dataKey(key: string, context: KmsContext, options: { plaintext: boolean }) {
      const made = await envelopes.dataKey(key, context, options);
      return {
        ciphertext: envelopeToText(made.wrapped),
        keyVersion: made.keyVersion,
        ...(made.plaintext === undefined ? {} : { plaintext: made.plaintext }),
      };
    },
    streams: kmsStreams(envelopes),
  };
}
