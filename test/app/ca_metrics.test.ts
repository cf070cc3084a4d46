import { describe, expect, it } from 'vitest';
import { caMetricsText } from '../../src/app/ca_metrics.js';
import type { AuthorityStatus } from '../../src/pki/index.js';

const cert = (expirySeconds: number) => ({
  id: 'ca1',
  subject: 'CN=x',
  serialNumber: '01',
  notBefore: 0,
  notAfter: expirySeconds * 1000,
  daysLeft: Math.floor(expirySeconds / 86_400),
  expirySeconds,
});

describe('the CA metrics', () => {
  it('exposes the expiry of root and intermediate, the warning count and the bundle sequence', () => {
    const status: AuthorityStatus = {
      trustDomain: 'td',
      root: cert(315_360_000),
      intermediate: cert(-5),
      warnings: ['the intermediate CA certificate expired on 1970-01-01T00:00:00.000Z'],
      notices: [],
      bundleSequence: 7,
    };
    const lines = caMetricsText(status).trimEnd().split('\n');
    const samples = lines.filter((l) => !l.startsWith('#'));
    expect(samples).toEqual([
      'gatehouse_ca_certificate_expiry_seconds{certificate="root"} 315360000',
      'gatehouse_ca_certificate_expiry_seconds{certificate="intermediate"} -5',
      'gatehouse_ca_expiry_warnings 1',
      'gatehouse_ca_bundle_sequence 7',
    ]);
    // Every family has its HELP and TYPE lines, in the exposition format Prometheus parses.
    for (const name of [
      'gatehouse_ca_certificate_expiry_seconds',
      'gatehouse_ca_expiry_warnings',
      'gatehouse_ca_bundle_sequence',
    ]) {
      expect(lines).toContain(`# TYPE ${name} gauge`);
      expect(lines.some((l) => l.startsWith(`# HELP ${name} `))).toBe(true);
    }
  });

  it('leaves the sequence out when the status has none', () => {
    const text = caMetricsText({ trustDomain: 'td', root: cert(10), intermediate: cert(5), warnings: [], notices: [] });
    expect(text).not.toContain('bundle_sequence');
    expect(text.endsWith('\n')).toBe(true);
  });
});
