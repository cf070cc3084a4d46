/**
 * A small bounded LRU of unsealed key-version material, so hot versions are not unsealed on every use. Entries are
 * copied in and out (callers may wipe what they get), and wiped when evicted or cleared. Never logged.
 *
 * @example
 * const cache = new MaterialCache(64);
 * cache.put('orders:v3', material);
 * const again = cache.get('orders:v3');
 */
export class MaterialCache {
  private readonly entries = new Map<string, Buffer>();

  constructor(private readonly capacity: number) {}

  get(id: string): Buffer | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    this.entries.set(id, entry);
    return Buffer.from(entry);
  }

  put(id: string, material: Buffer): void {
    if (this.capacity <= 0) return;
    this.drop(id);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.entries.set(id, Buffer.from(material));
  }

  /** Forgets (and wipes) every entry whose id starts with `prefix`, or all of them. */
  clear(prefix = ''): void {
    for (const id of [...this.entries.keys()]) if (id.startsWith(prefix)) this.drop(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(id: string): void {
    this.entries.get(id)?.fill(0);
    this.entries.delete(id);
  }
}
