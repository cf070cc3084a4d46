import { GatehouseError } from '../core/index.js';
import type { RouteConfig } from './gateway_config.js';

/** A route as the table holds it. */
export interface TableEntry<T> {
  route: RouteConfig;
  value: T;
}

/** True when `path` is under `prefix` on a segment boundary (`/demo/` matches `/demo/x`, `/api` matches `/api/v1`). */
function under(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 47 /* / */ || next === 63; /* ? */
}

/**
 * The host of a Host header, lowercased, without the port and without the trailing dot of a fully qualified name
 * (`API.example.com.:443` is `api.example.com`, as nginx reads it), so that spelling cannot skip a host's routes.
 *
 * @example
 * hostOf('API.Example.com.:8443'); // 'api.example.com'
 */
export function hostOf(header: string | undefined): string {
  if (header === undefined) return '';
  const h = header.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  const host = colon === -1 ? h : h.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/**
 * True when the raw header list holds more than one Host field. Node keeps only the first in `req.headers`, while a
 * proxy in front may have used another: RFC 9112 §3.2 requires a 400. No allocation: names are compared by length first.
 *
 * @example
 * if (repeatsHost(req.rawHeaders)) throw new GatehouseError('ERR_HTTP_BAD_REQUEST');
 */
export function repeatsHost(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 4 || (name !== 'host' && name !== 'Host' && name.toLowerCase() !== 'host')) continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/**
 * Routes by host, then by the longest path prefix; routes without a host match any host, after the host's own.
 * Immutable: hot reload builds a new table and swaps it.
 *
 * @example
 * const table = new RouteTable(config.routes.map((route) => ({ route, value: compile(route) })));
 * table.match('api.example.com', '/orders/7')?.value;
 */
export class RouteTable<T> {
  private readonly byHost = new Map<string, Array<TableEntry<T>>>();
  private readonly anyHost: Array<TableEntry<T>> = [];

  constructor(entries: ReadonlyArray<TableEntry<T>>) {
    const seen = new Set<string>();
    for (const [i, entry] of entries.entries()) {
      const host = entry.route.host?.toLowerCase();
      const id = `${host ?? '*'} ${entry.route.pathPrefix}`;
      if (seen.has(id)) {
        throw new GatehouseError('ERR_CONFIG_INVALID', {
          message: `config: gateway.routes.${i}.pathPrefix: two routes match host ${host ?? '(any)'} and prefix ${entry.route.pathPrefix}`,
        });
      }
      seen.add(id);
      if (host === undefined) this.anyHost.push(entry);
      else this.byHost.set(host, [...(this.byHost.get(host) ?? []), entry]);
    }
    const longestFirst = (a: TableEntry<T>, b: TableEntry<T>) => b.route.pathPrefix.length - a.route.pathPrefix.length;
    this.anyHost.sort(longestFirst);
    for (const list of this.byHost.values()) list.sort(longestFirst);
  }

  /** The entry for a request, or undefined (404). `host` as {@link hostOf} returns it. */
  match(host: string, path: string): TableEntry<T> | undefined {
    const own = this.byHost.get(host);
    if (own) for (const entry of own) if (under(path, entry.route.pathPrefix)) return entry;
    for (const entry of this.anyHost) if (under(path, entry.route.pathPrefix)) return entry;
    return undefined;
  }
}
