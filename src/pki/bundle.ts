import type { LoadedAuthority } from './load.js';

/**
 * The trust bundle as PEM: every root, then every intermediate still valid at `now`. This is the `trust-bundle.pem`
 * that curl `--cacert`, `openssl -CAfile` and `NODE_EXTRA_CA_CERTS` take.
 *
 * @example
 * await writeFile(join(dataDir, 'trust-bundle.pem'), trustBundlePem(loaded, clock.now()));
 */
export function trustBundlePem(authority: LoadedAuthority, now: number): string {
  const live = authority.intermediates.filter((ca) => ca.record.notAfter > now);
  return [...authority.roots, ...live].map((ca) => ca.certificate.toString('pem') + '\n').join('');
}
