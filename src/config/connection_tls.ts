/** Loopback hosts, where TLS to a database or cache is not required. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '' || h.startsWith('/');
}

/**
 * Whether a connection to `url` must use TLS under `mode`: `auto` means TLS unless the host is loopback (or a Unix
 * socket). Returns `insecure: true` when TLS is disabled towards a non-loopback host, so the caller logs a warning.
 */
export function connectionTls(url: string, mode: 'auto' | 'require' | 'disable'): { tls: boolean; insecure: boolean } {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    host = '';
  }
  const loopback = isLoopbackHost(host);
  if (mode === 'require') return { tls: true, insecure: false };
  if (mode === 'disable') return { tls: false, insecure: !loopback };
  return { tls: !loopback, insecure: false };
}
