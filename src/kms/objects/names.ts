import { createHash } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import type { ObjectContext } from './ports.js';

const BUCKET = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_KEY_BYTES = 1024;

/** Collections of the object store in the RecordStore. */
export const OBJECT_COLLECTIONS = { buckets: 'kms_buckets', objects: 'kms_objects', jobs: 'kms_jobs' } as const;

/**
 * Refuses a bucket name that is not 1-63 lowercase letters, digits and inner dashes.
 *
 * @example
 * checkBucketName('photos-2026');
 */
export function checkBucketName(bucket: string): void {
  if (!BUCKET.test(bucket)) {
    throw new GatehouseError('ERR_OBJECT_NAME_INVALID', {
      message: 'Invalid bucket name: use 1-63 lowercase letters, digits and dashes',
    });
  }
}

/**
 * Refuses an object key that is empty, longer than 1024 bytes of UTF-8, holds NUL or is not well-formed Unicode.
 *
 * @example
 * checkObjectKey('reports/2026/März.pdf');
 */
export function checkObjectKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0 || bytes > MAX_KEY_BYTES || key.includes('\0') || Buffer.from(key, 'utf8').toString('utf8') !== key) {
    throw new GatehouseError('ERR_OBJECT_NAME_INVALID', {
      message: 'Invalid object key: use 1-1024 bytes of UTF-8 without NUL',
    });
  }
}

/**
 * The record key of an object's metadata: bucket and the SHA-256 of the object key, so any UTF-8 key fits the store.
 *
 * @example
 * objectRecordKey('photos', 'a/b.jpg'); // 'photos/3f1c…'
 */
export function objectRecordKey(bucket: string, key: string): string {
  return `${bucket}/${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/**
 * A fresh file name for one generation of an object: the key's SHA-256 plus a random suffix, so a new version never
 * overwrites the file the metadata still points to.
 *
 * @example
 * objectFileName('a/b.jpg', 'k3j2h4'); // '3f1c….k3j2h4.obj'
 */
export function objectFileName(key: string, generation: string): string {
  return `${createHash('sha256').update(key, 'utf8').digest('hex')}.${generation}.obj`;
}

/**
 * The envelope context of an object: a file copied over another object's name fails to decrypt.
 *
 * @example
 * objectContext('photos', 'a/b.jpg'); // { bucket: 'photos', key: 'a/b.jpg' }
 */
export function objectContext(bucket: string, key: string): ObjectContext {
  return { bucket, key };
}

/**
 * The KMS key a new bucket uses unless told otherwise.
 *
 * @example
 * defaultBucketKey('photos'); // 'bucket-photos'
 */
export function defaultBucketKey(bucket: string): string {
  return `bucket-${bucket}`;
}
