import type { Readable, Writable } from 'node:stream';

/** A temp file being written: `commit` makes it the object file (fsync, rename, directory fsync), `abort` drops it. */
export interface TempObjectFile {
  readonly stream: Writable;
  /** Call after `stream` finished: fsyncs the temp file, renames it to its final name and fsyncs the directory. */
  commit(): Promise<void>;
  /** Removes the temp file (safe to call after a failure, and more than once). */
  abort(): Promise<void>;
}

/**
 * The file I/O the object store needs, and nothing else: one directory per bucket, opaque safe file names chosen by
 * the store. Implemented by `FsObjectFiles` (adapters/fs) under `<dataDir>/objects/<bucket>/`.
 *
 * @example
 * const temp = await files.createTemp('photos', 'ab12….obj');
 * await pipeline(source, temp.stream);
 * await temp.commit();
 */
export interface ObjectFiles {
  createTemp(bucket: string, fileName: string): Promise<TempObjectFile>;
  /** Streams a committed file, optionally from byte `start` on; ERR_OBJECT_NOT_FOUND when it is missing. */
  openRead(bucket: string, fileName: string, options?: { start?: number }): Promise<Readable>;
  /** The first bytes of a file (at most `maxBytes`); ERR_OBJECT_NOT_FOUND when it is missing. */
  readHead(bucket: string, fileName: string, maxBytes: number): Promise<Buffer>;
  size(bucket: string, fileName: string): Promise<number>;
  /** Removes a committed file and fsyncs the directory; a missing file is not an error. */
  remove(bucket: string, fileName: string): Promise<void>;
  /** Committed file names of a bucket (temp files excluded). */
  list(bucket: string): Promise<string[]>;
  /** Bucket directories that exist. */
  buckets(): Promise<string[]>;
  /** Removes temp files an interrupted write left behind; returns how many. */
  removeTemps(): Promise<number>;
}

/** The envelope context of an object: binds the ciphertext to its bucket and key. */
export type ObjectContext = Readonly<Record<string, string>>;

/** What the store reads from an envelope header. */
export interface ObjectHeader {
  /** Bytes of the header at the start of the file; the payload follows. */
  length: number;
  keyName: string;
  keyVersion: number;
}

/**
 * The streaming envelope operations the object store uses (implemented over the KMS `Envelopes`). Streams fail
 * with ERR_KMS_DECRYPT_FAILED when a segment or the header does not authenticate under the context.
 *
 * @example
 * await pipeline(plaintext, await cipher.encryptStream('bucket-photos', ctx), temp.stream);
 */
export interface ObjectCipher {
  /** Plaintext in, envelope (header + segments) out, under the key's current encryption version. */
  encryptStream(keyName: string, context: ObjectContext): Promise<NodeJS.ReadWriteStream>;
  /** Envelope in, plaintext of verified segments out. */
  decryptStream(context: ObjectContext): NodeJS.ReadWriteStream;
  /** Envelope in, nothing out: fails unless every segment authenticates. */
  verifyStream(context: ObjectContext): NodeJS.WritableStream;
  /** Parses the header at the start of `bytes` (which may hold more than the header). */
  parseHeader(bytes: Buffer): ObjectHeader;
  /** A new header for the same payload, wrapping the data key under the key's current version. */
  rewrapHeader(headerBytes: Buffer, context: ObjectContext): Promise<Buffer>;
  /** The version new encryptions under `keyName` use now. */
  currentVersion(keyName: string): Promise<number>;
  /** Creates the key if it does not exist yet (a bucket's key on first put). */
  ensureKey(keyName: string): Promise<void>;
}
