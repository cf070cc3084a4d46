import type { Clock } from '../../core/index.js';
import type { Api } from './api.js';

interface Snapshot {
  at: number;
  byAudience: Map<string, Api>;
  /** The scope names of every API, computed once per snapshot. */
  scopeNames?: string[];
}

/**
 * The token endpoint's in-memory view of registered APIs by audience: a snapshot reloaded when older than `ttlMs`
 * (changes through this process's registry invalidate it at once), so that token requests do not read the database.
 *
 * @example
 * const catalog = new ApiCatalog({ clock, ttlMs: 5000, load: () => apis.list() });
 * const api = await catalog.get('https://orders.internal');
 */
export class ApiCatalog {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;

  constructor(private readonly options: { clock: Clock; ttlMs: number; load: () => Promise<Api[]> }) {}

  get(audience: string): Api | undefined | Promise<Api | undefined> {
    const snap = this.fresh();
    if (snap) return snap.byAudience.get(audience);
    return this.reload().then((loaded) => loaded.byAudience.get(audience));
  }

  /**
   * Every scope name the registered APIs define, deduplicated and sorted (for the metadata's `scopes_supported`), from
   * the same snapshot: no store read while it is fresh.
   *
   * @example
   * const names = await catalog.scopeNames(); // ['orders:read', 'orders:write']
   */
  async scopeNames(): Promise<string[]> {
    const snap = this.fresh() ?? (await this.reload());
    snap.scopeNames ??= [
      ...new Set([...snap.byAudience.values()].flatMap((api) => api.scopes.map((s) => s.name))),
    ].sort();
    return snap.scopeNames;
  }

  invalidate(): void {
    this.snapshot = undefined;
  }

  private fresh(): Snapshot | undefined {
    const snap = this.snapshot;
    return snap && this.options.clock.now() - snap.at < this.options.ttlMs ? snap : undefined;
  }

  private reload(): Promise<Snapshot> {
    this.loading ??= this.options
      .load()
      .then((apis) => {
        const snap: Snapshot = {
          at: this.options.clock.now(),
          byAudience: new Map(apis.map((api) => [api.audience, api])),
        };
        this.snapshot = snap;
        return snap;
      })
      .finally(() => (this.loading = undefined));
    return this.loading;
  }
}
