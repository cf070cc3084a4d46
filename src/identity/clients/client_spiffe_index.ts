import type { Clock } from '../../core/index.js';
import type { Client } from './client.js';

/**
 * Clients by the workload SPIFFE IDs they hold (`spiffeIds`), for callers that present an X.509-SVID instead of a
 * credential: a snapshot of the registry reloaded when older than `ttlMs` (changes through this process's registry
 * invalidate it at once; other replicas' changes are seen within the TTL). A SPIFFE ID may be listed by several
 * clients; callers decide what that means (the platform authorizer refuses it).
 *
 * @example
 * const index = new ClientSpiffeIndex({ clock, ttlMs: 5000, load: () => clients.list() });
 * const holders = await index.clientsOf('spiffe://gatehouse.local/ns/shop/sa/orders'); // [client] when unique
 */
export class ClientSpiffeIndex {
  private snapshot: { at: number; bySpiffeId: Map<string, Client[]> } | undefined;
  private loading: Promise<Map<string, Client[]>> | undefined;
  private generation = 0;

  constructor(private readonly options: { clock: Clock; ttlMs: number; load: () => Promise<Client[]> }) {}

  /** The clients listing `spiffeId` (empty when none does). */
  async clientsOf(spiffeId: string): Promise<readonly Client[]> {
    const snap = this.snapshot;
    if (snap && this.options.clock.now() - snap.at < this.options.ttlMs) return snap.bySpiffeId.get(spiffeId) ?? [];
    if (this.loading === undefined) {
      const generation = this.generation;
      this.loading = this.options
        .load()
        .then((clients) => {
          const bySpiffeId = new Map<string, Client[]>();
          for (const client of clients) {
            for (const id of client.spiffeIds ?? []) bySpiffeId.set(id, [...(bySpiffeId.get(id) ?? []), client]);
          }
          // A change made while this load ran must not be hidden behind a snapshot taken before it.
          if (generation === this.generation) this.snapshot = { at: this.options.clock.now(), bySpiffeId };
          return bySpiffeId;
        })
        .finally(() => (this.loading = undefined));
    }
    return (await this.loading).get(spiffeId) ?? [];
  }

  /** Drops the snapshot: the next lookup reloads. */
  invalidate(): void {
    this.generation += 1;
    this.snapshot = undefined;
  }
}
