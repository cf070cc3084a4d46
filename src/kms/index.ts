export { RootKey } from './root_key.js';
export { Sealer, sealedFingerprint } from './sealer.js';
export { META_COLLECTION, ROOT_CHECK_KEY, type RootCheckRecord } from './root_check.js';
export { Keyring } from './keyring.js';
export type { KeyringOptions } from './keyring.js';
export type { KeyChangeListener } from './key_record_cache.js';
export type { KeyInfo, KeyVersionInfo, KeyMaterial } from './key_info.js';
export { KEY_TYPES, checkKeyName, checkKeyType } from './key_policy.js';
export type { KeyType, KeyConfigChange } from './key_policy.js';
export type { RootRotationCounts } from './root_rotation.js';
export { UsageReservations } from './usage.js';
export {
  Envelopes,
  encodeContext,
  CONTEXT_LIMITS,
  parseHeader as parseEnvelopeHeader,
  headerLengthOf as envelopeHeaderLength,
  MAX_HEADER_BYTES as ENVELOPE_MAX_HEADER_BYTES,
  SEGMENT_LIMITS,
  FORMAT_VERSION as ENVELOPE_FORMAT_VERSION,
  envelopeToText,
  envelopeFromText,
} from './envelope/index.js';
export type {
  EnvelopesOptions,
  Decrypted,
  DataKey,
  KeyMaterialSource,
  DataKeyCacheLimits,
  EncryptionContext,
  EnvelopeHeader,
  EnvelopeMode,
} from './envelope/index.js';
export {
  ObjectStore,
  ObjectRewrap,
  EnvelopeObjectCipher,
  OBJECT_COLLECTIONS,
  HEADER_READ_LIMIT,
  checkBucketName,
  checkObjectKey,
  defaultBucketKey,
  objectContext,
  objectFileName,
  objectRecordKey,
  toObjectInfo,
  fileReadError,
} from './objects/index.js';
export type {
  ObjectStoreOptions,
  RewrapJobRecord,
  RewrapProgress,
  RewrapReport,
  BucketRecord,
  ObjectRecord,
  ObjectInfo,
  ObjectFiles,
  TempObjectFile,
  ObjectCipher,
  ObjectContext,
  ObjectHeader,
} from './objects/index.js';
