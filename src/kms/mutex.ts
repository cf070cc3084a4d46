/**
 * Serializes async sections per key within this process (cross-process races are settled by the store's
 * preconditions). Idle keys are forgotten, so the map stays as small as the number of keys in use.
 *
 * @example
 * const locks = new KeyedMutex();
 * await locks.run('orders:v1', async () => reserveBlock());
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    await previous;
    try {
      return await section();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
