import type { Lease, Leases } from '../../core/index.js';

/**
 * Leases within one process (tests, single-process tools): a name is held by at most one holder of this instance.
 *
 * @example
 * const leases = new MemoryLeases();
 * const lease = await leases.tryAcquire('cleanup'); // a Lease, or undefined while another holder has it
 */
export class MemoryLeases implements Leases {
  private readonly held = new Set<string>();

  async tryAcquire(name: string): Promise<Lease | undefined> {
    if (this.held.has(name)) return undefined;
    this.held.add(name);
    let released = false;
    return {
      name,
      release: async () => {
        if (released) return;
        released = true;
        this.held.delete(name);
      },
    };
  }

  async close(): Promise<void> {
    this.held.clear();
  }
}
