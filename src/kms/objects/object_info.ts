/** A bucket: a directory of objects, all encrypted under one named KMS key. Stored in `kms_buckets`. */
export interface BucketRecord {
  name: string;
  keyName: string;
  createdAt: number;
}

/** Metadata of one object, stored in `kms_objects` under `<bucket>/<sha256(key)>`. Never any plaintext. */
export interface ObjectRecord {
  bucket: string;
  key: string;
  /** Plaintext bytes. */
  size: number;
  /** Bytes of the envelope file (header + payload). */
  storedSize: number;
  keyName: string;
  keyVersion: number;
  createdAt: number;
  /** The committed file under `objects/<bucket>/` holding this generation. */
  fileName: string;
  /**
   * The node whose data directory holds `fileName` (`<hostname>:<dataDir>` of the `gatehouse up` that wrote it, or
   * restored it); absent on objects written before it was recorded.
   */
  node?: string;
}

/** What callers see of an object. */
export type ObjectInfo = Omit<ObjectRecord, 'fileName' | 'node'>;

/**
 * Strips the storage detail from an object record.
 *
 * @example
 * const info = toObjectInfo(record.value);
 */
export function toObjectInfo(record: ObjectRecord): ObjectInfo {
  const { fileName: _fileName, node: _node, ...info } = record;
  return info;
}
