import type { Clock } from '../../core/index.js';
import type { Client } from './client.js';

const MAX_ENTRIES = 10_000;

interface Entry {
  client: Client | undefined;
  loadedAt: number;
}

/**
 * The token endpoint's view of clients: an in-memory, size-bounded map with a short TTL, so that the hot path does
 * not touch the database and other replicas' changes are seen within `ttlMs`. Unknown client_ids are cached too (as
 * absent), so a flood of made-up ids does not reach the database more than once per id and TTL.
 *
 * @example
 * const cache = new ClientCache({ clock, ttlMs: 5000, load: (id) => store.get(...) });
 * const client = await cache.get('abc');
 */
export class ClientCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Client | undefined>>();

  constructor(
    private readonly options: { clock: Clock; ttlMs: number; load: (clientId: string) => Promise<Client | undefined> },
  ) {}

  /** The cached client, loading it when absent or stale (concurrent loads of one id are shared). */
  get(clientId: string): Client | undefined | Promise<Client | undefined> {
    const entry = this.entries.get(clientId);
    if (entry && this.options.clock.now() - entry.loadedAt < this.options.ttlMs) return entry.client;
    let pending = this.inflight.get(clientId);
    if (!pending) {
      pending = this.options
        .load(clientId)
        .then((client) => {
          this.put(clientId, client);
          return client;
        })
        .finally(() => this.inflight.delete(clientId));
      this.inflight.set(clientId, pending);
    }
    return pending;
  }

  invalidate(clientId: string): void {
    this.entries.delete(clientId);
  }

  private put(clientId: string, client: Client | undefined): void {
    this.entries.delete(clientId);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(clientId, { client, loadedAt: this.options.clock.now() });
  }
}
