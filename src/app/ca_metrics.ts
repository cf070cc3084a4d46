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
    '# HELP gatehouse_ca_certificate_expiry_seconds Seconds until the CA certificate expires (negative once expired).',
    '# TYPE gatehouse_ca_certificate_expiry_seconds gauge',
    `gatehouse_ca_certificate_expiry_seconds{certificate="root"} ${status.root.expirySeconds}`,
    `gatehouse_ca_certificate_expiry_seconds{certificate="intermediate"} ${status.intermediate.expirySeconds}`,
    '# HELP gatehouse_ca_expiry_warnings CA certificates within pki.expiryWarning of expiry, or expired.',
    '# TYPE gatehouse_ca_expiry_warnings gauge',
    `gatehouse_ca_expiry_warnings ${status.warnings.length}`,
  ];
  if (status.bundleSequence !== undefined) {
    lines.push(
      '# HELP gatehouse_ca_bundle_sequence Sequence number of the published SPIFFE trust bundle.',
      '# TYPE gatehouse_ca_bundle_sequence gauge',
      `gatehouse_ca_bundle_sequence ${status.bundleSequence}`,
    );
  }
  return lines.join('\n') + '\n';
}
