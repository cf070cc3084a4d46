export { Envelopes } from './envelopes.js';
export type { EnvelopesOptions, Decrypted, DataKey } from './envelopes.js';
export type { KeyMaterialSource } from './key_source.js';
export type { DataKeyCacheLimits } from './data_key_cache.js';
export { encodeContext, CONTEXT_LIMITS } from './context.js';
export type { EncryptionContext } from './context.js';
export { parseHeader, headerLengthOf, MAX_HEADER_BYTES, SEGMENT_LIMITS, FORMAT_VERSION } from './format.js';
export type { EnvelopeHeader, EnvelopeMode } from './format.js';
export { envelopeToText, envelopeFromText } from './text.js';
