// Issue 6 benchmark: SVID issuance (CSR parse + verify + sign + encode, PEM out) by gatehouse's Authority.issueSvid
// against the stock @peculiar/x509 generator doing the same work in the same run: Pkcs10CertificateRequest parse and
// verify, X509CertificateGenerator.create with the same extensions (basicConstraints CA:false, keyUsage
// digitalSignature, EKU serverAuth+clientAuth, AKI, critical URI SAN, SKI), signed with a WebCrypto P-256 key, PEM
// out. In process, alternating rounds (bench/lib/measure.mjs).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MemoryRecordStore } from '../../dist/adapters/index.js';
import { silentLogger, systemClock } from '../../dist/core/index.js';
import { newKeyAndCsr } from '../../dist/mesh/index.js';
import { Authority } from '../../dist/pki/index.js';
import { compare } from '../lib/measure.mjs';

const DAY = 86_400_000;
const TD = 'bench.test';
const SPIFFE_ID = `spiffe://${TD}/ns/demo/sa/orders`;

/** An in-memory secret vault (the CA seals its keys there). */
function mapVault() {
  const secrets = new Map();
  return {
    putSecret: async (name, value) => void secrets.set(name, Buffer.from(value)),
    getSecret: async (name) => secrets.get(name),
  };
}

/** The anchor's CA: a WebCrypto P-256 key and a self-signed CA certificate made with @peculiar/x509. */
async function anchorCa() {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${TD} intermediate`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keys, cert, aki: await x509.AuthorityKeyIdentifierExtension.create(cert) };
}

/** The anchor: the same issuance with the stock @peculiar/x509 classes. */
function anchorIssue(ca) {
  return async (csrPem) => {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    if (!(await csr.verify())) throw new Error('anchor: CSR signature invalid');
    const publicKey = await csr.publicKey.export();
    const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
    serial[0] &= 0x7f;
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial.toString('hex'),
      issuer: ca.cert.subject,
      subject: '',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + DAY),
      publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ca.aki,
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: SPIFFE_ID }], true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    });
    return cert.toString('pem');
  };
}

export async function run() {
  x509.cryptoProvider.set(webcrypto);
  const store = new MemoryRecordStore({ clock: systemClock });
  const authority = await Authority.open({
    store,
    vault: mapVault(),
    clock: systemClock,
    trustDomain: TD,
    rootTtlMs: 3650 * DAY,
    intermediateTtlMs: 365 * DAY,
    logger: silentLogger,
  });
  const { csrPem } = await newKeyAndCsr();
  const issueAnchor = anchorIssue(await anchorCa());
  // Both sides must produce a certificate that parses and carries the SPIFFE ID: a broken side must not pass as fast.
  for (const pem of [authority.issueSvid({ csrPem, spiffeId: SPIFFE_ID }).certificatePem, await issueAnchor(csrPem)]) {
    const cert = new x509.X509Certificate(pem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    if (!san?.names.items.some((n) => n.type === 'url' && n.value === SPIFFE_ID)) throw new Error('no SPIFFE ID');
  }
  const results = await compare({
    name: 'gatehouse Authority.issueSvid (node:crypto over a pre-encoded TBS template)',
    subject: () => authority.issueSvid({ csrPem, spiffeId: SPIFFE_ID }),
    anchors: {
      '@peculiar/x509 2.2.0 (Pkcs10CertificateRequest + X509CertificateGenerator, WebCrypto P-256)': () =>
        issueAnchor(csrPem),
    },
    rounds: 7,
    roundMs: 700,
  });
  return [
    {
      bench: 'SVID issuance from a PEM CSR (parse + verify + sign + encode, PEM out) vs @peculiar/x509',
      target: '≥ 1.5×',
      need: 1.5,
      results,
      note:
        'Setup: one P-256 CSR (PEM) issued again and again in process, 7 alternating rounds of 700 ms, medians. ' +
        'Both sides: CSR signature verified, ECDSA P-256/SHA-256 signature, the same six extensions, a random ' +
        'serial, PEM out; gatehouse also checks the SPIFFE ID and builds the chain PEM.',
    },
  ];
}
