/**
 * Request headers that some frameworks honour but that are not part of the cache key: they are stripped before a
 * cacheable request goes upstream, so a poisoned variant cannot be stored under an innocent key.
 */
export const UNKEYED_HEADERS = [
  'x-forwarded-host',
  'x-forwarded-scheme',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-host',
  'forwarded',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
];

/**
 * The host as the cache keys it and as a cacheable request forwards it in `X-Forwarded-Host`: the Host header
 * lowercased, port kept (an origin that builds links from it sees exactly what the key holds).
 *
 * @example
 * keyedHost('API.example.com:8443'); // 'api.example.com:8443'
 */
export function keyedHost(host: string | undefined): string {
  return (host ?? '').trim().toLowerCase();
}

/**
 * The primary cache key: method (HEAD shares GET's entries), scheme, host ({@link keyedHost}) and the request target
 * exactly as it is forwarded upstream: the gateway's normalized target (`normalizeRequestTarget`: escapes, merged
 * slashes, dot segments). Nothing is normalized here that the upstream would not also receive, so two requests share
 * an entry only when the upstream would have been asked the same thing (query parameters keep their order).
 *
 * @example
 * cacheKey('GET', 'Example.com', '/a/b~?y=2&x=1'); // 'GET https example.com /a/b~?y=2&x=1'
 */
export function cacheKey(method: string, host: string | undefined, target: string): string {
  const m = method === 'HEAD' ? 'GET' : method;
  return `${m} https ${keyedHost(host)} ${target}`;
}

/**
 * A primary key scoped to the route that stored the entry: an entry is only ever served by the route (and so the
 * upstream) it came from, and a reload can drop one route's entries ({@link routeOfKey}). Route names hold no space.
 *
 * @example
 * routeCacheKey('orders', cacheKey('GET', 'example.com', '/a')); // 'orders GET https example.com /a'
 */
export function routeCacheKey(route: string, key: string): string {
  return `${route} ${key}`;
}

/**
 * The route of a key made by {@link routeCacheKey}.
 *
 * @example
 * routeOfKey('orders GET https example.com /a'); // 'orders'
 */
export function routeOfKey(key: string): string {
  const space = key.indexOf(' ');
  return space === -1 ? key : key.slice(0, space);
}

/**
 * The request target of a route-scoped key (`route METHOD https host target`): the last field, since a request target
 * never holds a space (the HTTP parser refuses one) while a Host field might.
 *
 * @example
 * targetOfKey('orders GET https example.com /a?b=1'); // '/a?b=1'
 */
export function targetOfKey(key: string): string {
  return key.slice(key.lastIndexOf(' ') + 1);
}
