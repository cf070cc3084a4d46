import type { Clock } from '../../core/index.js';
import type { Api } from './api.js';

/**
 * The token endpoint's in-memory view of registered APIs by audience: a snapshot reloaded when older than `ttlMs`
 * (changes through this process's registry invalidate it at once), so that token requests do not read the database.
 *
 * @example
 * const catalog = new ApiCatalog({ clock, ttlMs: 5000, load: () => apis.list() });
 * const api = await catalog.get('https://orders.internal');
 */
export class ApiCatalog {
  private snapshot: { at: number; byAudience: Map<string, Api> } | undefined;
  private loading: Promise<Map<string, Api>> | undefined;

  constructor(private readonly options: { clock: Clock; ttlMs: number; load: () => Promise<Api[]> }) {}

  get(audience: string): Api | undefined | Promise<Api | undefined> {
    const snap = this.snapshot;
    if (snap && this.options.clock.now() - snap.at < this.options.ttlMs) return snap.byAudience.get(audience);
    this.loading ??= this.options
      .load()
      .then((apis) => {
        const byAudience = new Map(apis.map((api) => [api.audience, api]));
        this.snapshot = { at: this.options.clock.now(), byAudience };
        return byAudience;
      })
      .finally(() => (this.loading = undefined));
    return this.loading.then((map) => map.get(audience));
  }

  invalidate(): void {
    this.snapshot = undefined;
  }
}
