const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

function loopbackUrl(uri: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) ? url : undefined;
}

/**
 * Finds the registered redirect URI a request names (RFC 9700 §2.1): exact string comparison, with one exception for
 * native apps: an `http` loopback IP URI (127.0.0.1 or [::1]) may use any port (RFC 8252 §7.3), everything else
 * (host, path, query) identical. Returns the URI to redirect to (the request's own, for the loopback case), or
 * undefined when nothing matches (the caller then shows an error page and never redirects).
 *
 * @example
 * matchRedirectUri(['http://127.0.0.1/cb'], 'http://127.0.0.1:53127/cb'); // 'http://127.0.0.1:53127/cb'
 */
export function matchRedirectUri(registered: readonly string[], requested: string): string | undefined {
  if (requested.length > 2048) return undefined;
  if (registered.includes(requested)) return requested;
  const asked = loopbackUrl(requested);
  if (!asked || requested.includes('#')) return undefined;
  for (const candidate of registered) {
    const reg = loopbackUrl(candidate);
    if (!reg) continue;
    if (
      reg.hostname === asked.hostname &&
      reg.pathname === asked.pathname &&
      reg.search === asked.search &&
      reg.username === '' &&
      asked.username === '' &&
      asked.password === ''
    ) {
      return requested;
    }
  }
  return undefined;
}

/** Schemes a redirect URI may never use: the browser would run or read what follows instead of going to an app. */
export const FORBIDDEN_REDIRECT_SCHEMES: ReadonlySet<string> = new Set([
  'javascript:',
  'data:',
  'vbscript:',
  'blob:',
  'file:',
  'about:',
  'filesystem:',
]);

/**
 * The Content-Security-Policy source that lets a page's form end in a redirect to `uri` (browsers apply `form-action`
 * to the redirect that answers a form): the origin of an http(s) URI, the scheme of a native app's private-use URI
 * (RFC 8252 §7.1, `com.example.app:/cb` gives `com.example.app:`), undefined for anything else.
 *
 * @example
 * formActionSource('https://app.example/cb'); // 'https://app.example'
 * formActionSource('com.example.app:/oauth/cb'); // 'com.example.app:'
 */
export function formActionSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin === 'null' ? undefined : url.origin;
  if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol) || FORBIDDEN_REDIRECT_SCHEMES.has(url.protocol)) return undefined;
  return url.protocol;
}

/**
 * Appends response parameters to a redirect URI: in the query (code flow), or in the fragment (legacy implicit,
 * RFC 6749 §4.2.2).
 *
 * @example
 * redirectWith('https://app.example/cb', { code, state, iss }, 'query');
 */
export function redirectWith(
  uri: string,
  params: Record<string, string | undefined>,
  mode: 'query' | 'fragment',
): string {
  const url = new URL(uri);
  const values = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) values.set(k, v);
  if (mode === 'fragment') {
    url.hash = values.toString();
    return url.toString();
  }
  for (const [k, v] of values) url.searchParams.append(k, v);
  return url.toString();
}
