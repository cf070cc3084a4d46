export { RootKey } from './root_key.js';
export { Sealer, sealedFingerprint } from './sealer.js';
export { Keyring } from './keyring.js';
export type { KeyringOptions } from './keyring.js';
export type { KeyInfo, KeyVersionInfo, KeyMaterial } from './key_info.js';
export { KEY_TYPES, checkKeyName, checkKeyType } from './key_policy.js';
export type { KeyType, KeyConfigChange } from './key_policy.js';
export type { RootRotationCounts } from './root_rotation.js';
export { UsageReservations } from './usage.js';
