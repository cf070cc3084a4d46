import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GatehouseError, randomId, type Clock, type Leases, type Logger, type RecordStore } from '../../core/index.js';
import type { ObjectRecord } from './object_info.js';
import { OBJECT_COLLECTIONS as C, objectContext, objectFileName } from './names.js';
import { fileReadError } from './object_node.js';
import { HEADER_READ_LIMIT, type ObjectStore } from './object_store.js';
import type { ObjectCipher, ObjectFiles } from './ports.js';

/** The durable state of a bucket's rewrap, in `kms_jobs` under `rewrap/<bucket>`: a crash resumes from `cursor`. */
export interface RewrapJobRecord {
  bucket: string;
  keyName: string;
  targetVersion: number;
  /** Record key of the last object finished, or null before the first. */
  cursor: string | null;
  total: number;
  rewrapped: number;
  skipped: number;
  state: 'running' | 'done' | 'failed';
  startedAt: number;
  finishedAt: number | null;
  /** How many times this job was picked up again after an interruption or a failure. */
  resumes: number;
}

/** One progress event: after every object. */
export interface RewrapProgress {
  done: number;
  total: number;
  rewrapped: number;
  skipped: number;
}

/** What a finished rewrap did. */
export interface RewrapReport extends RewrapProgress {
  bucket: string;
  keyName: string;
  targetVersion: number;
  failed: number;
  /** True when this run continued a job an earlier run left unfinished. */
  resumed: boolean;
}

/**
 * `object rewrap BUCKET`: after a rotation of the bucket's key, rewrites the header of every object still wrapped
 * under an older version (new header + the very same payload bytes, temp file + fsync + rename, then metadata),
 * skipping objects already current. Resumable: the cursor is saved after every object, and a crash between an
 * object's metadata switch and the cursor write only makes the next run skip that object.
 *
 * @example
 * const report = await new ObjectRewrap({ store, records, files, cipher, clock, logger }).run('photos', console.error);
 */
export class ObjectRewrap {
  constructor(
    private readonly options: {
      store: ObjectStore;
      records: RecordStore;
      files: ObjectFiles;
      cipher: ObjectCipher;
      clock: Clock;
      logger: Logger;
      /** One rewrap per bucket at a time, across processes sharing the store (in-process only when absent). */
      leases?: Leases;
      /** The node this runs on, recorded in the objects it rewrites (see ObjectStoreOptions.node). */
      node?: string;
    },
  ) {}

  private readonly running = new Set<string>();

  /** The saved job of a bucket, if any. */
  async job(bucket: string): Promise<RewrapJobRecord | undefined> {
    return (await this.options.records.get<RewrapJobRecord>(C.jobs, `rewrap/${bucket}`))?.value;
  }

  /** Runs (or resumes) the rewrap of a bucket; ERR_LEASE_HELD when one is already running for it. */
  async run(
    bucketName: string,
    onProgress: (progress: RewrapProgress) => void = () => undefined,
  ): Promise<RewrapReport> {
    const busy = () =>
      new GatehouseError('ERR_LEASE_HELD', { message: `A rewrap of bucket ${bucketName} is already running` });
    if (this.running.has(bucketName)) throw busy();
    this.running.add(bucketName);
    try {
      const leases = this.options.leases;
      const lease = leases ? await leases.tryAcquire(`object-rewrap:${bucketName}`) : undefined;
      if (leases && !lease) throw busy();
      try {
        return await this.runLocked(bucketName, onProgress);
      } finally {
        await lease?.release();
      }
    } finally {
      this.running.delete(bucketName);
    }
  }

  private async runLocked(bucketName: string, onProgress: (progress: RewrapProgress) => void): Promise<RewrapReport> {
    const { store, records, cipher, clock, logger } = this.options;
    const bucket = await store.bucket(bucketName);
    const jobKey = `rewrap/${bucketName}`;
    const targetVersion = await cipher.currentVersion(bucket.keyName);
    const previous = await this.job(bucketName);
    const resumed = previous !== undefined && previous.state !== 'done';
    let job: RewrapJobRecord;
    if (resumed) {
      job = { ...previous, targetVersion, state: 'running', resumes: previous.resumes + 1 };
      logger.info({ bucket: bucketName, cursor: job.cursor !== null }, 'object rewrap: resuming');
    } else {
      let total = 0;
      for await (const _rec of store.records(bucketName)) total += 1;
      job = {
        bucket: bucketName,
        keyName: bucket.keyName,
        targetVersion,
        cursor: null,
        total,
        rewrapped: 0,
        skipped: 0,
        state: 'running',
        startedAt: clock.now(),
        finishedAt: null,
        resumes: 0,
      };
    }
    const save = () => records.write([{ op: 'upsert', collection: C.jobs, key: jobKey, value: job }]);
    const progress = (): RewrapProgress => ({
      done: job.rewrapped + job.skipped,
      total: Math.max(job.total, job.rewrapped + job.skipped),
      rewrapped: job.rewrapped,
      skipped: job.skipped,
    });
    await save();
    onProgress(progress());

    for await (const rec of store.records(bucketName, job.cursor ?? undefined)) {
      let changed = false;
      if (rec.value.keyVersion < targetVersion) {
        try {
          changed = await this.rewrapOne(rec);
        } catch (err) {
          job = { ...job, state: 'failed' };
          await save();
          throw failure(rec.value, err);
        }
      }
      job = {
        ...job,
        cursor: rec.key,
        rewrapped: job.rewrapped + (changed ? 1 : 0),
        skipped: job.skipped + (changed ? 0 : 1),
      };
      await save();
      onProgress(progress());
    }
    job = { ...job, state: 'done', finishedAt: clock.now(), total: Math.max(job.total, job.rewrapped + job.skipped) };
    await save();
    const report: RewrapReport = {
      bucket: bucketName,
      keyName: bucket.keyName,
      targetVersion,
      ...progress(),
      failed: 0,
      resumed,
    };
    logger.info({ ...report }, 'object rewrap finished');
    return report;
  }

  /** Rewrites one object's header; false when the object changed meanwhile (a newer put is already current). */
  private async rewrapOne(rec: { key: string; version: number; value: ObjectRecord }): Promise<boolean> {
    const { records, files, cipher, node } = this.options;
    const { bucket, key, fileName } = rec.value;
    const context = objectContext(bucket, key);
    const head = await files.readHead(bucket, fileName, HEADER_READ_LIMIT).catch((err: unknown) => {
      throw fileReadError(err, rec.value, node);
    });
    const header = cipher.parseHeader(head);
    const newHeader = await cipher.rewrapHeader(head.subarray(0, header.length), context);
    const parsed = cipher.parseHeader(newHeader);
    const newFile = objectFileName(key, randomId(6));
    const temp = await files.createTemp(bucket, newFile);
    try {
      const payload = await files.openRead(bucket, fileName, { start: header.length });
      await pipeline(
        Readable.from(
          (async function* () {
            yield newHeader;
            yield* payload;
          })(),
        ),
        temp.stream,
      );
      await temp.commit();
    } catch (err) {
      await temp.abort();
      throw err;
    }
    const value: ObjectRecord = {
      ...rec.value,
      keyVersion: parsed.keyVersion,
      storedSize: rec.value.storedSize - header.length + newHeader.length,
      fileName: newFile,
      ...(node === undefined ? {} : { node }),
    };
    try {
      await records.write([{ op: 'update', collection: C.objects, key: rec.key, value, expectVersion: rec.version }]);
    } catch (err) {
      await files.remove(bucket, newFile);
      const code = (err as GatehouseError).code;
      if (code === 'ERR_STORE_CONFLICT' || code === 'ERR_STORE_NOT_FOUND') return false;
      throw err;
    }
    await this.options.store.discardFile(bucket, fileName);
    return true;
  }
}

function failure(rec: ObjectRecord, err: unknown): unknown {
  if (!(err instanceof GatehouseError) || err.code !== 'ERR_KMS_DECRYPT_FAILED') return err;
  return new GatehouseError('ERR_KMS_DECRYPT_FAILED', {
    message: `Rewrap stopped: object ${rec.bucket}/${rec.key} did not decrypt; objects after it were not touched`,
    cause: err,
  });
}
