import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { GatehouseError } from '../../../src/core/index.js';
import type { ObjectCipher, ObjectContext, ObjectHeader } from '../../../src/kms/index.js';

/**
 * A test double of the envelope library for the object store's unit tests: a JSON header with a data key wrapped
 * under an in-memory "key version", then AES-256-GCM segments whose AAD binds the context, index and final flag.
 * Only for tests: production wires the KMS Envelopes.
 */
export class FakeCipher implements ObjectCipher {
  readonly versions = new Map<string, Buffer[]>();
  constructor(private readonly segmentSize = 1024) {}

  async ensureKey(name: string): Promise<void> {
    if (!this.versions.has(name)) this.versions.set(name, [randomBytes(32)]);
  }
  rotate(name: string): void {
    this.versions.get(name)?.push(randomBytes(32));
  }
  async currentVersion(name: string): Promise<number> {
    return this.versions.get(name)?.length ?? 0;
  }
  private master(name: string, version: number): Buffer {
    const key = this.versions.get(name)?.[version - 1];
    if (!key) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    return key;
  }

  private header(name: string, version: number, dk: Buffer, ctx: ObjectContext): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.master(name, version), iv).setAAD(Buffer.from(JSON.stringify(ctx)));
    const wrapped = Buffer.concat([c.update(dk), c.final(), c.getAuthTag()]);
    const json = Buffer.from(
      JSON.stringify({ k: name, v: version, iv: iv.toString('hex'), w: wrapped.toString('hex') }),
    );
    const len = Buffer.alloc(4);
    len.writeUInt32BE(json.length);
    return Buffer.concat([Buffer.from('GHT1'), len, json]);
  }

  parseHeader(bytes: Buffer): ObjectHeader & { iv: Buffer; wrapped: Buffer } {
    if (bytes.length < 8 || bytes.subarray(0, 4).toString() !== 'GHT1')
      throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    const len = bytes.readUInt32BE(4);
    if (bytes.length < 8 + len) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    const h = JSON.parse(bytes.subarray(8, 8 + len).toString()) as { k: string; v: number; iv: string; w: string };
    return {
      length: 8 + len,
      keyName: h.k,
      keyVersion: h.v,
      iv: Buffer.from(h.iv, 'hex'),
      wrapped: Buffer.from(h.w, 'hex'),
    };
  }

  private unwrap(header: ReturnType<FakeCipher['parseHeader']>, ctx: ObjectContext): Buffer {
    try {
      const d = createDecipheriv('aes-256-gcm', this.master(header.keyName, header.keyVersion), header.iv);
      d.setAAD(Buffer.from(JSON.stringify(ctx))).setAuthTag(header.wrapped.subarray(32));
      return Buffer.concat([d.update(header.wrapped.subarray(0, 32)), d.final()]);
    } catch {
      throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    }
  }

  async rewrapHeader(headerBytes: Buffer, ctx: ObjectContext): Promise<Buffer> {
    const h = this.parseHeader(headerBytes);
    return this.header(h.keyName, await this.currentVersion(h.keyName), this.unwrap(h, ctx), ctx);
  }

  async encryptStream(name: string, ctx: ObjectContext): Promise<NodeJS.ReadWriteStream> {
    const dk = randomBytes(32);
    const seg = this.segmentSize;
    let pending = Buffer.alloc(0);
    let index = 0;
    const seal = (plain: Buffer, final: boolean) => {
      const iv = Buffer.alloc(12);
      iv.writeUInt32BE(index, 8);
      const c = createCipheriv('aes-256-gcm', dk, iv).setAAD(Buffer.from(`${JSON.stringify(ctx)}|${index}|${final}`));
      index += 1;
      const head = Buffer.alloc(5);
      head.writeUInt32BE(plain.length);
      head[4] = final ? 1 : 0;
      return Buffer.concat([head, c.update(plain), c.final(), c.getAuthTag()]);
    };
    const header = this.header(name, await this.currentVersion(name), dk, ctx);
    let sent = false;
    const out0 = (): boolean => {
      if (sent) return false;
      sent = true;
      return true;
    };
    return new Transform({
      transform(chunk: Buffer, _e, cb) {
        pending = Buffer.concat([pending, chunk]);
        const out: Buffer[] = index === 0 && out0() ? [header] : [];
        while (pending.length > seg) {
          out.push(seal(pending.subarray(0, seg), false));
          pending = pending.subarray(seg);
        }
        cb(null, Buffer.concat(out));
      },
      flush(cb) {
        cb(null, Buffer.concat([index === 0 && out0() ? header : Buffer.alloc(0), seal(pending, true)]));
      },
    });
  }

  decryptStream(ctx: ObjectContext): NodeJS.ReadWriteStream {
    let buf = Buffer.alloc(0);
    let dk: Buffer | undefined;
    let index = 0;
    let done = false;
    const fail = () => new GatehouseError('ERR_KMS_DECRYPT_FAILED');
    const parse = (b: Buffer) => this.parseHeader(b);
    const unwrap = (h: ReturnType<FakeCipher['parseHeader']>) => this.unwrap(h, ctx);
    return new Transform({
      transform(chunk: Buffer, _e, cb) {
        buf = Buffer.concat([buf, chunk]);
        try {
          if (!dk) {
            if (buf.length < 8 || buf.length < 8 + buf.readUInt32BE(4)) return cb();
            const h = parse(buf);
            dk = unwrap(h);
            buf = buf.subarray(h.length);
          }
          const out: Buffer[] = [];
          while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(0) + 16) {
            if (done) throw fail();
            const n = buf.readUInt32BE(0);
            const final = buf[4] === 1;
            const iv = Buffer.alloc(12);
            iv.writeUInt32BE(index, 8);
            const d = createDecipheriv('aes-256-gcm', dk, iv).setAAD(
              Buffer.from(`${JSON.stringify(ctx)}|${index}|${final}`),
            );
            d.setAuthTag(buf.subarray(5 + n, 5 + n + 16));
            out.push(Buffer.concat([d.update(buf.subarray(5, 5 + n)), d.final()]));
            buf = buf.subarray(5 + n + 16);
            index += 1;
            done = final;
          }
          cb(null, Buffer.concat(out));
        } catch {
          cb(fail());
        }
      },
      flush(cb) {
        cb(done && buf.length === 0 ? null : fail());
      },
    });
  }

  verifyStream(ctx: ObjectContext): NodeJS.WritableStream {
    const s = this.decryptStream(ctx) as Transform;
    s.resume();
    return s;
  }
}
