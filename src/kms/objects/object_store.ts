import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipelineCb } from 'node:stream';
import { GatehouseError, randomId, type Clock, type Logger, type RecordStore } from '../../core/index.js';
import { toObjectInfo, type BucketRecord, type ObjectInfo, type ObjectRecord } from './object_info.js';
import {
  OBJECT_COLLECTIONS as C,
  checkBucketName,
  checkObjectKey,
  defaultBucketKey,
  objectContext,
  objectFileName,
  objectRecordKey,
} from './names.js';
import { fileReadError } from './object_node.js';
import type { ObjectCipher, ObjectFiles } from './ports.js';

/** Bytes of an envelope file read to find its header. */
export const HEADER_READ_LIMIT = 64 * 1024;
const WRITE_ATTEMPTS = 5;
const LIST_PAGE = 500;

export interface ObjectStoreOptions {
  records: RecordStore;
  files: ObjectFiles;
  cipher: ObjectCipher;
  clock: Clock;
  logger: Logger;
  /**
   * The node this store runs on (`<hostname>:<dataDir>`), recorded in every object it writes, so that a replica
   * without the object's file can say where it is (ERR_OBJECT_ON_OTHER_NODE).
   */
  node?: string;
}

const notFound = (what: string) => new GatehouseError('ERR_OBJECT_NOT_FOUND', { message: `No such ${what}` });

/**
 * The encrypted object store: buckets of objects, each envelope-encrypted under its bucket's KMS key with the context
 * `{bucket, key}`, streamed in and out in constant memory.
 *
 * Crash ordering of a put: the envelope is written to a temp file, fsynced and renamed to a NEW file name (never the
 * one the metadata points to), then the metadata record is switched to it in one atomic write, then the old file is
 * removed. A crash before the metadata write leaves the old object (and an orphan file, removed by `recover`); a
 * crash after it leaves the new object (and maybe the old file, also removed by `recover`). Readers only follow
 * metadata, so they never see a partial object.
 *
 * @example
 * const store = new ObjectStore({ records, files, cipher, clock, logger });
 * await store.put('photos', 'a/b.jpg', fs.createReadStream('b.jpg'));
 * await pipeline(await store.read('photos', 'a/b.jpg'), process.stdout);
 */
export class ObjectStore {
  private holds = 0;
  private deferred: Array<{ bucket: string; fileName: string }> = [];

  constructor(private readonly options: ObjectStoreOptions) {}

  /**
   * Keeps every file that metadata points to now from being removed until the returned release is called (a backup
   * reads the files of its record snapshot while puts, rewraps and removals go on). Removals are queued meanwhile.
   */
  hold(): () => Promise<void> {
    this.holds += 1;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.holds -= 1;
      if (this.holds > 0) return;
      const queued = this.deferred.splice(0);
      for (const { bucket, fileName } of queued) await this.options.files.remove(bucket, fileName);
    };
  }

  /** Removes a file no metadata points to any more (now, or when the last hold is released). */
  async discardFile(bucket: string, fileName: string): Promise<void> {
    if (this.holds > 0) this.deferred.push({ bucket, fileName });
    else await this.options.files.remove(bucket, fileName);
  }

  /** Removes temp files and files no metadata points to (leftovers of crashed puts, rewraps and removals). */
  async recover(): Promise<{ temps: number; orphans: number }> {
    const { files } = this.options;
    const temps = await files.removeTemps();
    let orphans = 0;
    for (const bucket of await files.buckets()) {
      const referenced = new Set<string>();
      for await (const rec of this.records(bucket)) referenced.add(rec.value.fileName);
      for (const name of await files.list(bucket)) {
        if (!referenced.has(name)) {
          await files.remove(bucket, name);
          orphans += 1;
        }
      }
    }
    if (temps + orphans > 0) this.options.logger.warn({ temps, orphans }, 'object store: removed leftover files');
    return { temps, orphans };
  }

  /** The bucket, creating it on first use with key `keyName` (default `bucket-<name>`, created if missing). */
  async bucket(name: string, options: { keyName?: string; create?: boolean } = {}): Promise<BucketRecord> {
    checkBucketName(name);
    const { records, cipher, clock } = this.options;
    const existing = await records.get<BucketRecord>(C.buckets, name);
    if (existing) {
      if (options.keyName !== undefined && options.keyName !== existing.value.keyName) {
        throw new GatehouseError('ERR_OBJECT_NAME_INVALID', {
          message: `Bucket ${name} already uses key ${existing.value.keyName}`,
        });
      }
      return existing.value;
    }
    if (!options.create) throw notFound(`bucket ${name}`);
    const keyName = options.keyName ?? defaultBucketKey(name);
    await cipher.ensureKey(keyName);
    const value: BucketRecord = { name, keyName, createdAt: clock.now() };
    try {
      await records.write([{ op: 'insert', collection: C.buckets, key: name, value }]);
      return value;
    } catch (err) {
      if ((err as GatehouseError).code !== 'ERR_STORE_CONFLICT') throw err;
      return this.bucket(name, { ...options, create: false });
    }
  }

  async listBuckets(): Promise<BucketRecord[]> {
    return (await this.options.records.list<BucketRecord>(C.buckets)).map((r) => r.value);
  }

  /** Streams `source` into the object, replacing any previous version only once the new one is durable. */
  async put(bucket: string, key: string, source: Readable, options: { keyName?: string } = {}): Promise<ObjectInfo> {
    checkObjectKey(key);
    const b = await this.bucket(bucket, { ...options, create: true });
    const { files, cipher, clock } = this.options;
    const fileName = objectFileName(key, randomId(6));
    const temp = await files.createTemp(bucket, fileName);
    let size = 0;
    let storedSize = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        cb(null, chunk);
      },
    });
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        storedSize += chunk.length;
        if (headBytes < HEADER_READ_LIMIT) {
          const part = chunk.subarray(0, HEADER_READ_LIMIT - headBytes);
          head.push(part);
          headBytes += part.length;
        }
        cb(null, chunk);
      },
    });
    let value: ObjectRecord;
    try {
      const encrypt = await cipher.encryptStream(b.keyName, objectContext(bucket, key));
      await pipeline(source, count, encrypt, tap, temp.stream);
      const header = cipher.parseHeader(Buffer.concat(head));
      await temp.commit();
      value = {
        bucket,
        key,
        size,
        storedSize,
        keyName: header.keyName,
        keyVersion: header.keyVersion,
        createdAt: clock.now(),
        fileName,
        ...(this.options.node === undefined ? {} : { node: this.options.node }),
      };
    } catch (err) {
      await temp.abort();
      throw err;
    }
    let replaced: string | undefined;
    try {
      replaced = await this.switchMetadata(value);
    } catch (err) {
      await files.remove(bucket, fileName).catch(() => undefined);
      throw err;
    }
    if (replaced) await this.discardFile(bucket, replaced);
    return toObjectInfo(value);
  }

  /** Points the metadata at `value.fileName` (last writer wins); returns the file name it replaced. */
  private async switchMetadata(value: ObjectRecord): Promise<string | undefined> {
    const { records } = this.options;
    const rk = objectRecordKey(value.bucket, value.key);
    for (let attempt = 1; ; attempt += 1) {
      const old = await records.get<ObjectRecord>(C.objects, rk);
      try {
        await records.write([
          old
            ? { op: 'update', collection: C.objects, key: rk, value, expectVersion: old.version }
            : { op: 'insert', collection: C.objects, key: rk, value },
        ]);
        return old?.value.fileName;
      } catch (err) {
        if ((err as GatehouseError).code !== 'ERR_STORE_CONFLICT' || attempt >= WRITE_ATTEMPTS) throw err;
      }
    }
  }

  /** The metadata of an object; ERR_OBJECT_NOT_FOUND when absent. */
  async stat(bucket: string, key: string): Promise<ObjectInfo> {
    return toObjectInfo((await this.record(bucket, key)).value);
  }

  /** The raw envelope file of an object (for verification passes and backups). */
  async openEnvelope(bucket: string, key: string): Promise<{ info: ObjectInfo; envelope: Readable }> {
    const rec = await this.record(bucket, key);
    const envelope = await this.openFile(rec.value);
    return { info: toObjectInfo(rec.value), envelope };
  }

  /**
   * The plaintext of an object as a stream of verified segments. The stream errors (ERR_KMS_DECRYPT_FAILED) at the
   * first segment that does not authenticate; with `verifyFirst` the whole file is authenticated before the stream is
   * returned (two reads of the same generation), so nothing unverified is ever released.
   */
  async read(
    bucket: string,
    key: string,
    options: { verifyFirst?: boolean } = {},
  ): Promise<{ info: ObjectInfo; plaintext: Readable }> {
    const rec = await this.record(bucket, key);
    const { cipher } = this.options;
    const context = objectContext(bucket, key);
    if (options.verifyFirst) await pipeline(await this.openFile(rec.value), cipher.verifyStream(context));
    const envelope = await this.openFile(rec.value);
    const plaintext = pipelineCb(envelope, cipher.decryptStream(context), () => undefined) as unknown as Readable;
    return { info: toObjectInfo(rec.value), plaintext };
  }

  /** Reads the whole object and checks every segment; throws ERR_KMS_DECRYPT_FAILED on any tampering. */
  async verify(bucket: string, key: string): Promise<ObjectInfo> {
    const { info, envelope } = await this.openEnvelope(bucket, key);
    await pipeline(envelope, this.options.cipher.verifyStream(objectContext(bucket, key)));
    return info;
  }

  /** Objects of a bucket whose key starts with `prefix`, ordered by key, at most `limit`. */
  async list(bucket: string, options: { prefix?: string; limit?: number } = {}): Promise<ObjectInfo[]> {
    await this.bucket(bucket);
    const prefix = options.prefix ?? '';
    const out: ObjectInfo[] = [];
    for await (const rec of this.records(bucket)) {
      if (rec.value.key.startsWith(prefix)) out.push(toObjectInfo(rec.value));
    }
    out.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }

  /** Deletes an object: metadata first (it disappears atomically), then its file. */
  async remove(bucket: string, key: string): Promise<ObjectInfo> {
    const rec = await this.record(bucket, key);
    await this.options.records.write([
      { op: 'delete', collection: C.objects, key: rec.key, expectVersion: rec.version },
    ]);
    await this.discardFile(bucket, rec.value.fileName);
    return toObjectInfo(rec.value);
  }

  /** Every metadata record of a bucket in record-key order, from after `after`, paged. */
  async *records(
    bucket: string,
    after?: string,
  ): AsyncGenerator<{ key: string; version: number; value: ObjectRecord }> {
    let cursor = after;
    for (;;) {
      const page = await this.options.records.list<ObjectRecord>(C.objects, {
        prefix: `${bucket}/`,
        limit: LIST_PAGE,
        ...(cursor === undefined ? {} : { after: cursor }),
      });
      for (const rec of page) yield rec;
      if (page.length < LIST_PAGE) return;
      cursor = page[page.length - 1]?.key;
    }
  }

  /** The envelope file of an object; ERR_OBJECT_ON_OTHER_NODE when another node wrote it and it is not here. */
  private async openFile(record: ObjectRecord): Promise<Readable> {
    try {
      return await this.options.files.openRead(record.bucket, record.fileName);
    } catch (err) {
      throw fileReadError(err, record, this.options.node);
    }
  }

  private async record(bucket: string, key: string) {
    checkBucketName(bucket);
    checkObjectKey(key);
    const rec = await this.options.records.get<ObjectRecord>(C.objects, objectRecordKey(bucket, key));
    if (!rec) throw notFound(`object ${bucket}/${key}`);
    return rec;
  }
}
