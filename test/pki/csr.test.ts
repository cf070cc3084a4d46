import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, csrPemToDer, verifyCsr } from '../../src/pki/index.js';

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const pemOf = (der: Buffer, label = 'CERTIFICATE REQUEST') =>
  `-----BEGIN ${label}-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;

/** The ERR_PKI_CSR_INVALID refusal `run` throws, as `code: message`. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return `${e.code}: ${e.message}`;
  }
  return 'accepted';
}

const refused = (reason: string) => `ERR_PKI_CSR_INVALID: Invalid certificate signing request: ${reason}`;

describe('CSR decoding: exactly one request, nothing after it', () => {
  const pem = createCsr(p256());
  const der = csrPemToDer(pem);

  it('accepts the request alone, with explanatory text before it (RFC 7468) and whitespace after it', () => {
    expect(verifyCsr(der).keyType).toBe('ec-p256');
    expect(verifyCsr(csrPemToDer(`Certificate Request:\n    Data: ...\n${pem}`)).keyType).toBe('ec-p256');
    expect(verifyCsr(csrPemToDer(`${pem}\n\n  \r\n`)).keyType).toBe('ec-p256');
    expect(verifyCsr(csrPemToDer(pemOf(der, 'NEW CERTIFICATE REQUEST'))).keyType).toBe('ec-p256');
  });

  it('refuses DER followed by trailing bytes, though the signature verifies', () => {
    for (const extra of [Buffer.from([0]), Buffer.from('junk'), der]) {
      const padded = Buffer.concat([der, extra]);
      expect(refusal(() => verifyCsr(padded))).toBe(refused('trailing data after the CSR'));
      // The same bytes inside a PEM body.
      expect(refusal(() => verifyCsr(csrPemToDer(pemOf(padded))))).toBe(refused('trailing data after the CSR'));
    }
  });

  it('refuses junk after the END line and more than one PEM block', () => {
    expect(refusal(() => csrPemToDer(`${pem}junk\n`))).toBe(refused('trailing data after the PEM END line'));
    const twoBlocks = refused('more than one PEM block (send one CERTIFICATE REQUEST)');
    expect(refusal(() => csrPemToDer(pem + pem))).toBe(twoBlocks);
    expect(refusal(() => csrPemToDer(`${pem}\n${pemOf(Buffer.from('key'), 'PRIVATE KEY')}`))).toBe(twoBlocks);
    expect(refusal(() => csrPemToDer(`${pemOf(Buffer.from('key'), 'PRIVATE KEY')}${pem}`))).toBe(twoBlocks);
  });

  it('refuses base64 data after the padding (Node would drop it silently)', () => {
    // A request whose DER length is not a multiple of 3 ends its base64 with '='.
    let padded = der;
    for (let i = 0; i < 50 && padded.length % 3 === 0; i++) padded = csrPemToDer(createCsr(p256()));
    expect(padded.length % 3).not.toBe(0);
    const body = `${padded.toString('base64')}QUJD`;
    expect(Buffer.from(body, 'base64').equals(padded)).toBe(true); // what Node's decoder makes of it
    const pemWithJunk = `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(refusal(() => csrPemToDer(pemWithJunk))).toBe(refused('PEM body is not canonical base64'));
  });
});
