import { GatehouseError } from '../../core/index.js';
import { unwrapDek } from './dek_wrap.js';
import { headerLengthOf, parseHeader, SIZES, type EnvelopeHeader } from './format.js';
import type { KeyMaterialSource } from './key_source.js';
import { StreamKeys } from './stream_keys.js';

/**
 * The reading side of a stream envelope, independent of Node's stream classes: feed it chunks with `write`, then call
 * `end`. It parses the header, unwraps the DEK (checking the key commitment), then opens segments one at a time and
 * hands each plaintext to `emit` only after that segment authenticated. It holds at most one segment plus one chunk.
 * A missing final segment, reordered, duplicated or foreign segments, and trailing bytes all fail with
 * ERR_KMS_DECRYPT_FAILED.
 *
 * @example
 * const reader = new StreamReader(keys, encodeContext(context));
 * for await (const chunk of file) await reader.write(chunk, (plain) => out.push(plain));
 * reader.end((plain) => out.push(plain));
 */
export class StreamReader {
  private head: Buffer = Buffer.alloc(0);
  private header: EnvelopeHeader | undefined;
  private keys: StreamKeys | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private segment: Buffer | undefined;

  constructor(
    private readonly source: KeyMaterialSource,
    private readonly context: Buffer,
  ) {}

  /** The parsed header, once it has arrived. */
  get parsedHeader(): EnvelopeHeader | undefined {
    return this.header;
  }

  /** Takes the next chunk of the envelope; emits the plaintext of every segment now known not to be the last. */
  async write(chunk: Buffer, emit: (plaintext: Buffer) => void): Promise<void> {
    if (!this.keys) {
      const rest = await this.readHeader(chunk);
      if (!this.keys || rest.length === 0) return;
      chunk = rest;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    const keys = this.keys;
    const sealedLength = (this.header?.segmentSize ?? 0) + SIZES.tag;
    // A segment is known not to be the last only when at least one more byte follows it.
    while (this.queued > sealedLength) emit(keys.open(this.take(sealedLength), false));
  }

  /** Ends the envelope: opens the final segment (which must be there) and wipes the keys. */
  end(emit: (plaintext: Buffer) => void): void {
    const keys = this.keys;
    if (!keys || this.queued < SIZES.tag) {
      this.wipe();
      throw new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'stream truncated' });
    }
    try {
      emit(keys.open(this.take(this.queued), true));
    } finally {
      this.wipe();
    }
  }

  /** Wipes keys and buffers (also on error or abort). */
  wipe(): void {
    this.keys?.wipe();
    this.segment?.fill(0);
    this.queue = [];
    this.queued = 0;
  }

  private async readHeader(chunk: Buffer): Promise<Buffer> {
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const need = headerLengthOf(this.head);
    if (need === undefined || this.head.length < need) return Buffer.alloc(0);
    const bytes = this.head.subarray(0, need);
    const header = parseHeader(bytes);
    if (header.mode !== 'stream') throw new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'not a stream' });
    const material = await this.source.decryptionKey(header.keyName, header.keyVersion);
    let dek: Buffer | undefined;
    try {
      dek = unwrapDek(bytes, header, material, this.context);
      this.keys = StreamKeys.open(bytes, header, dek, this.context);
    } finally {
      dek?.fill(0);
      material.key.fill(0);
    }
    this.header = header;
    const rest = this.head.subarray(need);
    this.head = Buffer.alloc(0);
    return rest;
  }

  /** Removes exactly `n` queued bytes (without copying when one chunk holds them all). */
  private take(n: number): Buffer {
    this.queued -= n;
    const first = this.queue[0];
    if (first && first.length >= n) {
      if (first.length === n) this.queue.shift();
      else this.queue[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = this.segment && this.segment.length >= n ? this.segment : Buffer.allocUnsafe(n);
    this.segment = out;
    let at = 0;
    while (at < n) {
      const part = this.queue[0];
      if (!part) break;
      const used = Math.min(part.length, n - at);
      part.copy(out, at, 0, used);
      at += used;
      if (used === part.length) this.queue.shift();
      else this.queue[0] = part.subarray(used);
    }
    return out.subarray(0, n);
  }
}
