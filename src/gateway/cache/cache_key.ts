import { hostOf } from '../route_table.js';

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

function normalizePath(path: string): string {
  const decoded = path.replace(/%[0-9a-fA-F]{2}/g, (m) => {
    const c = String.fromCharCode(parseInt(m.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  return decoded.replace(/\/{2,}/g, '/');
}

/**
 * The primary cache key: method (HEAD shares GET's entries), scheme, host (lowercase, no port), normalized path
 * (unreserved characters decoded, other escapes uppercased, repeated slashes merged) and query (parameters sorted).
 *
 * @example
 * cacheKey('GET', 'Example.com:443', '/a//b%7e?y=2&x=1'); // 'GET https example.com /a/b~?x=1&y=2'
 */
export function cacheKey(method: string, host: string | undefined, url: string): string {
  const q = url.indexOf('?');
  const path = normalizePath(q === -1 ? url : url.slice(0, q));
  const query =
    q === -1
      ? ''
      : url
          .slice(q + 1)
          .split('&')
          .filter((p) => p !== '')
          .sort()
          .join('&');
  const m = method === 'HEAD' ? 'GET' : method;
  return `${m} https ${hostOf(host)} ${path}${query === '' ? '' : `?${query}`}`;
}
