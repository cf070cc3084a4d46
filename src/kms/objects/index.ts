export { ObjectStore, HEADER_READ_LIMIT } from './object_store.js';
export type { ObjectStoreOptions } from './object_store.js';
export { ObjectRewrap } from './rewrap_job.js';
export { EnvelopeObjectCipher } from './envelope_cipher.js';
export type { RewrapJobRecord, RewrapProgress, RewrapReport } from './rewrap_job.js';
export type { BucketRecord, ObjectRecord, ObjectInfo } from './object_info.js';
export { toObjectInfo } from './object_info.js';
export { fileReadError } from './object_node.js';
export {
  OBJECT_COLLECTIONS,
  checkBucketName,
  checkObjectKey,
  defaultBucketKey,
  objectContext,
  objectFileName,
  objectRecordKey,
} from './names.js';
export type { ObjectFiles, TempObjectFile, ObjectCipher, ObjectContext, ObjectHeader } from './ports.js';
