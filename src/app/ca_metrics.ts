import { metricFamily } from '../core/index.js';
import type { AuthorityStatus } from '../pki/index.js';

/**
 * The CA's Prometheus series (text exposition), for an alert long before the mesh stops renewing:
 * `gatehouse_ca_certificate_expiry_seconds{certificate="root"|"intermediate"}` (negative once expired),
 * `gatehouse_ca_expiry_warnings` (CA certificates within `pki.expiryWarning`, as `ca status` warns) and
 * `gatehouse_ca_bundle_sequence`.
 *
 * @example
 * const text = caMetricsText(authority.status(clock.now()));
 */
export function caMetricsText(status: AuthorityStatus): string {
  const lines = [
    ...metricFamily(
      'gatehouse_ca_certificate_expiry_seconds',
      'gauge',
      'Seconds until the CA certificate expires (negative once expired).',
      [
        ['{certificate="root"}', status.root.expirySeconds],
        ['{certificate="intermediate"}', status.intermediate.expirySeconds],
      ],
    ),
    ...metricFamily(
      'gatehouse_ca_expiry_warnings',
      'gauge',
      'CA certificates within pki.expiryWarning of expiry, or expired.',
      [['', status.warnings.length]],
    ),
  ];
  if (status.bundleSequence !== undefined) {
    lines.push(
      ...metricFamily(
        'gatehouse_ca_bundle_sequence',
        'gauge',
        'Sequence number of the published SPIFFE trust bundle.',
        [['', status.bundleSequence]],
      ),
    );
  }
  return lines.join('\n') + '\n';
}
