import type { Clock } from '../../core/index.js';
import type { Client } from '../clients/client.js';

/**
 * The browser origins any client registered (`--allowed-origin`), for CORS preflights of the token and revocation
 * endpoints (a preflight names no client). Actual answers carry CORS headers only for the authenticated client's own
 * origins (TokenEndpoint). A snapshot reloaded when older than `ttlMs`. Never used on the authorization endpoint.
 *
 * @example
 * const cors = new CorsOrigins({ clock, ttlMs: 5000, load: () => clients.list() });
 * if (await cors.allows(origin)) reply.headers(preflightHeaders(origin));
 */
export class CorsOrigins {
  private snapshot: { at: number; origins: Set<string> } | undefined;
  private loading: Promise<Set<string>> | undefined;

  constructor(private readonly options: { clock: Clock; ttlMs: number; load: () => Promise<Client[]> }) {}

  async allows(origin: string): Promise<boolean> {
    const snap = this.snapshot;
    if (snap && this.options.clock.now() - snap.at < this.options.ttlMs) return snap.origins.has(origin);
    this.loading ??= this.options
      .load()
      .then((clients) => {
        const origins = new Set(clients.flatMap((c) => c.allowedOrigins ?? []));
        this.snapshot = { at: this.options.clock.now(), origins };
        return origins;
      })
      .finally(() => (this.loading = undefined));
    return (await this.loading).has(origin);
  }

  invalidate(): void {
    this.snapshot = undefined;
  }
}

/**
 * The answer headers of an allowed CORS preflight (POST with Authorization and a form body; cached 10 minutes).
 *
 * @example
 * reply.code(204).headers(preflightHeaders('https://spa.example'));
 */
export function preflightHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': 'Authorization, Content-Type',
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}
